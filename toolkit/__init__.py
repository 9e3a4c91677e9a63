"""Small non-clinical helpers that import nothing from the project (the bottom floor, beside
protocols.engine): any app may use them."""
