"""The book's derivations in SymPy, one module per chapter.

Functions return SymPy objects (and, where a figure needs numbers, their
``lambdify``'d forms).  This package imports SymPy and NumPy only, never
torch, so the closed forms can be checked and plotted without a deep-learning
stack.
"""
