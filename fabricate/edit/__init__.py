"""Edits of a made model from plain words: typed operations, a parser, a history kept in the 3MF.

``edit_model(model, "make it 20% taller")`` returns the new version and the operations it ran
(fabricate/edit/api.py); the operations are in operations.py, the parser in parse.py, the
optional language model in llm.py and the history in history.py.
"""
from fabricate.edit.api import EditableModel, EditResult, edit_model, load_model, redo_model, undo_model, write_model
from fabricate.edit.operations import OPERATIONS, Operation, checked_operation
from fabricate.edit.parse import parse_instructions

__all__ = ["EditableModel", "EditResult", "edit_model", "load_model", "redo_model", "undo_model", "write_model", "OPERATIONS",
           "Operation", "checked_operation", "parse_instructions"]
