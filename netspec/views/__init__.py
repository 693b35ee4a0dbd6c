"""Views of an analysed spec: the summary table (text, markdown, JSON), the arithmetic of each
layer (``--explain``), the difference between two specs, diagrams (SVG, Mermaid) and the JSON
Schema for editors."""
