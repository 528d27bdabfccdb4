"""End-to-end jobs (align, synthesize, attack, evaluate, the demo) built from the library's pieces."""
