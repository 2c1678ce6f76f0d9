"""Build hook: ship models/ and schemas/ inside the package.

The data lives at the top of the repository (one place, edited by hand); a
wheel or a non-editable install carries a copy as qmpserver/_data/, which
qmpserver.profiles.loader finds when the repository is not around.
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithData(build_py):
    def run(self):
        super().run()
        for sub in ("models", "schemas"):
            src = os.path.join(HERE, sub)
            dst = os.path.join(self.build_lib, "qmpserver", "_data", sub)
            if os.path.isdir(src):
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithData})
