"""Ontology classes that `mosaico_bridge` writes where the official SDK (`mosaicolabs` >= 0.7) has
no class of its own. Import this module before reading such topics and they come back typed:

    import mosaico_bridge_ontology  # registers Humidity, Illumination, RosMessageCdr
    from mosaico_bridge_ontology import Humidity

The schemas are documented in `docs/ontology-extensions.md` and must stay identical to the Rust
definitions in `src/ontology/extensions_current.schemas` (a test compares the two).
"""
from mosaicolabs.models.core import MosaicoField, MosaicoType, Serializable
from mosaicolabs.models.data import HeaderMixin, VarianceMixin

__all__ = ["Humidity", "Illumination", "RosMessageCdr"]


class Humidity(Serializable, HeaderMixin, VarianceMixin):
    """Relative humidity (`sensor_msgs/msg/RelativeHumidity`), 0.0 (dry) to 1.0 (saturated).

    Columns: `variance: double?, variance_type: int16?, header: Header?, value: double!`.
    `variance` is null when the ROS message gives 0 (unknown).
    """

    value: MosaicoType.float64 = MosaicoField(description="Relative humidity, fraction 0.0-1.0.")


class Illumination(Serializable, HeaderMixin, VarianceMixin):
    """Illuminance (`sensor_msgs/msg/Illuminance`) in lux.

    Columns: `variance: double?, variance_type: int16?, header: Header?, value: double!`.
    """

    value: MosaicoType.float64 = MosaicoField(description="Illuminance in lux.")


class RosMessageCdr(Serializable):
    """A ROS 2 message of a type `mosaico_bridge` has no adapter for, stored as received.

    `data` is the serialized message (CDR, with its 4-byte encapsulation header). The topic's
    metadata names the type and carries its definition: `_ros_.msgtype`, `_ros_.msgdef` (and
    `_ros_.qos` when known), so `rosbags` can decode it:

        typestore.register(get_types_from_msg(meta["_ros_"]["msgdef"], meta["_ros_"]["msgtype"]))
        msg = typestore.deserialize_cdr(row.data, meta["_ros_"]["msgtype"])
    """

    data: MosaicoType.binary = MosaicoField(description="Serialized ROS 2 message (CDR, encapsulation header included).")
