"""Cells: ``nn.Cell`` to subclass, the layers, and ``nn.GraphCell``. MindSpore: mindspore.nn."""
from ._cellar import (  # noqa: F401
    AvgPool2d,
    BatchNorm2d,
    Cell,
    Conv2d,
    Dense,
    Dropout,
    Flatten,
    GELU,
    GraphCell,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    SequentialCell,
    Sigmoid,
    Softmax,
    Tanh,
)



class CellList(Cell):
    """A list of Cells, registered as children 0, 1, … (checkpoint names ``layers.0.weight``).

    MindSpore: ``nn.CellList([...])``. Not callable: iterate it in the parent's construct.
    """

    def __init__(self, args=None, auto_prefix=True):
        super().__init__()
        object.__setattr__(self, "_items", [])
        for cell in args or []:
            self.append(cell)

    def append(self, cell):
        """Adds ``cell`` under the next index."""
        if not isinstance(cell, Cell):
            raise TypeError(f"CellList holds Cells, not {type(cell).__name__}")
        setattr(self, str(len(self._items)), cell)  # registers it (Cell.__setattr__)
        self._items.append(cell)

    def extend(self, cells):
        for cell in cells:
            self.append(cell)

    def __len__(self):
        return len(self._items)

    def __getitem__(self, index):
        return self._items[index]

    def __iter__(self):
        return iter(self._items)


__all__ = ["Cell", "CellList", "SequentialCell", "Flatten", "Dense", "ReLU", "Sigmoid", "Tanh", "Softmax",
           "LogSoftmax", "GELU", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "Dropout",
           "GraphCell"]
