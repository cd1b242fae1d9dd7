"""The embeddable chat widget: its public settings and who may use it."""
