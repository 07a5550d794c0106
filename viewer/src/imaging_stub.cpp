// Placeholder until the imaging code lands (issue 2).
