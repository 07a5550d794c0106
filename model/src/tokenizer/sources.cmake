# Owned by the tokenizer area: append its .cpp files to CXR_MODEL_SOURCES.
