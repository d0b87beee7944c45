"""moto without its list of every model object it ever made, so a stack left running all day
does not keep every item it ever touched.

moto 5.2's BaseModel appends each new instance of every model class to a list on the class
(`instances_tracked`), for its `/moto-api/` dashboard; only a reset of moto empties it. In
DynamoDB that is every item written, and every copy of one that moto makes to check a
condition, to update in place or to write a stream record, every stream record and every shard
iterator (each GetRecords makes one): measured on `make run` (bench/day.py), 10,797 items held
after 600 cycles of publish, book and cancel, for 3,279 stored; most of the stack's growth.
The local stack uses no dashboard, so install() stops the tracking for every model but S3's,
whose reset closes the temporary files of its keys through that list.
"""

from typing import Any

from moto.core.common_models import BaseModel

_moto_new = BaseModel.__new__
_STILL_TRACKED = ("moto.s3.",)


def _new(cls: type, *args: Any, **kwargs: Any) -> BaseModel:
    if cls.__module__.startswith(_STILL_TRACKED):
        return _moto_new(cls, *args, **kwargs)
    return super(BaseModel, cls).__new__(cls)  # what moto's does, less the tracking


def install() -> None:
    """Stops the tracking for models made from now on (idempotent)."""
    BaseModel.__new__ = staticmethod(_new)
