// Placeholder: the tokenizer area fills this in.
