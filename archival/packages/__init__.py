"""Reading offline transfer packages (issue 15, "Package intake"): DA/T 48 EEPs, the 2012
offline-carrier layout and BagIt bags, each turned into records the SDK can submit. Pure: file
I/O only, no Kafka, S3, HTTP or faust. docs/design.md, "Offline transfer packages"."""

from archival.packages.mapping import PackageMapping, default_mapping, load_mapping
from archival.packages.model import (
    Kind,
    Limits,
    PackageFile,
    PackageProblem,
    PackageRecord,
    ReadPackage,
)
from archival.packages.reader import read_package

__all__ = [
    "Kind",
    "Limits",
    "PackageFile",
    "PackageMapping",
    "PackageProblem",
    "PackageRecord",
    "ReadPackage",
    "default_mapping",
    "load_mapping",
    "read_package",
]
