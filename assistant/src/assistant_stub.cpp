// Placeholder until the assistant lands (issue 4).
