// Placeholder until the viewer widget lands (issue 2).
