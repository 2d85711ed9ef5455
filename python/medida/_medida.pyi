"""Type hints of the native half of medida (PyO3). The Python half, medida/__init__.py,
wraps these; use that."""

from os import PathLike
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

__version__: str

class MedidaError(ValueError):
    """An input medida refuses, with medida's own message."""

class Fit:
    library: List[str]
    terms: List[str]
    coefficients: np.ndarray
    std: np.ndarray
    inclusion: np.ndarray
    library_coefficients: np.ndarray
    prune_alpha: float
    noise_std: float
    unsupported: Optional[str]
    held_out_explained: Optional[float]
    def equation(self, lhs: str = "y") -> str: ...
    def summary(self, lhs: str = "y") -> str: ...
    def report_json(self) -> str: ...

class Discovery:
    name: str
    system: str
    components: List[str]
    equations: List[str]
    def summary(self) -> str: ...
    def outcome(self) -> Optional[Tuple[bool, float]]: ...
    def report_json(self) -> str: ...
    def case_json(self) -> str: ...
    def model_json(self) -> str: ...
    def arrays(self) -> Dict[str, Any]: ...
    def plot(self, folder: Union[str, PathLike[str]]) -> List[str]: ...

def fit(
    x: np.ndarray,
    y: np.ndarray,
    labels: Sequence[str],
    prune_alpha: str = "auto",
    method: str = "rvm",
    seed: int = 0,
    name: str = "fit",
) -> Fit: ...
def run(
    case: Union[str, PathLike[str], Mapping[str, Any]],
    progress: Optional[Callable[[str], None]] = None,
) -> Discovery: ...
def discover(
    case: Mapping[str, Any],
    u: Optional[np.ndarray],
    arrays: Sequence[Tuple[str, np.ndarray]],
    progress: Optional[Callable[[str], None]] = None,
) -> Discovery: ...
def cases() -> List[Tuple[str, str]]: ...
def format_equation(
    lhs: str, terms: Sequence[str], coefficients: Sequence[float], std: Optional[Sequence[float]] = None
) -> str: ...
