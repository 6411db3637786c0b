"""The GitHub side of the reusable workflows: comments, saved-plan artifacts, the drift issue.

Run as ``python -m reconciler.github COMMAND`` by the workflows' steps; see ``__main__``.
"""
