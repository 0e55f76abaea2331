"""Analyses: read a checked IR and produce data (a cost tree, Table 1's rows), never text.

Back ends render what they produce (`resdsl.backends.summary_text`, the drawing, the language
server's hovers). An analysis imports no torch.
"""
