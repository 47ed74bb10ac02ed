"""The studio's pages, one module per page: the prompt page and its job cards, the editor, compare,
costs and budgets, and the providers page."""
