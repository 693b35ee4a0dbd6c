"""Views of an analysed spec: the summary table (text, markdown, JSON), diagrams (SVG, Mermaid)
and the JSON Schema for editors."""
