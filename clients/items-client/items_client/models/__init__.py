"""Contains all the data models used in inputs/outputs"""

from .item_create import ItemCreate
from .item_out import ItemOut
from .item_page import ItemPage
from .item_status import ItemStatus
from .item_update import ItemUpdate
from .list_items_sort import ListItemsSort
from .problem import Problem
from .tag_list import TagList
from .tag_out import TagOut
from .validation_problem import ValidationProblem
from .validation_problem_errors_item import ValidationProblemErrorsItem

__all__ = (
    "ItemCreate",
    "ItemOut",
    "ItemPage",
    "ItemStatus",
    "ItemUpdate",
    "ListItemsSort",
    "Problem",
    "TagList",
    "TagOut",
    "ValidationProblem",
    "ValidationProblemErrorsItem",
)
