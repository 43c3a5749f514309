"""nbgrader configuration for the Rust exercise notebooks (docs/EXERCISES.md, "nbgrader").

Use it from a course directory (nbgrader's source/, release/, submitted/, autograded/ ...) with
a nbgrader_config.py there that reads this one:

    c = get_config()
    load_subconfig("/path/to/this/workbook/nbgrader_config.py")

nbgrader then releases the notebooks with the Rust stub, and `nbgrader autograde` executes them
with the evcxr kernel `rust` (installed by ./workbook.sh setup; run nbgrader from the workbook's
venv with JUPYTER_PATH=.venv/share/jupyter) through tools/nbgrader_evcxr.py. nbgrader is not a
sandbox: `./workbook.sh grade` is the grader that runs students' code as untrusted.
"""
import os
import sys

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                    SaveAutoGrades)

_WORKBOOK = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_WORKBOOK, "tools"))
from nbgrader_evcxr import EvcxrExecute  # noqa: E402

c = get_config()  # noqa: F821 (defined by traitlets when it loads this file)

c.ClearSolutions.code_stub = {"rust": 'todo!("your code here")'}
# nbgrader's default autograde pipeline with evcxr's Execute in place of its own.
c.Autograde.autograde_preprocessors = [EvcxrExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                       SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
c.EvcxrExecute.crate_path = _WORKBOOK
c.EvcxrExecute.timeout = 120      # a tests cell (they take seconds; a cold kernel's first cells more)
c.EvcxrExecute.dep_timeout = 900  # the `:dep` cell of a fresh kernel compiles the dependencies
