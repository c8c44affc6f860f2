"""Starts the mosaico_bridge recorder.

    ros2 launch mosaico_bridge record.launch.py
    ros2 launch mosaico_bridge record.launch.py params_file:=/path/record.yaml namespace:=robot1 server:=fleet:6726
    ros2 launch mosaico_bridge record.launch.py use_sim_time:=true     # stamps from /clock

Every setting lives in the parameters file (config/record.yaml by default); `server`, `sequence` and
`use_sim_time` override it when given, and the environment variable MOSAICO_SPOOL the spool
directory (`spool.dir`). The recorder's services (~/start, ~/stop, ~/split) follow the namespace.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def recorder(context):
    # Overrides are passed only when set (an empty --server would be an error).
    extra = []
    for name in ("server", "sequence"):
        value = LaunchConfiguration(name).perform(context)
        if value:
            extra += [f"--{name}", value]
    if LaunchConfiguration("use_sim_time").perform(context).lower() in ("true", "1", "yes"):
        extra.append("--use-sim-time")
    return [
        Node(
            package="mosaico_bridge",
            executable="mosaico-bridge",
            name="mosaico_bridge",
            namespace=LaunchConfiguration("namespace"),
            arguments=["record", "--config", LaunchConfiguration("params_file"), *extra],
            additional_env={"RUST_LOG": LaunchConfiguration("log_level")},
            output="screen",
            emulate_tty=True,
            # Remap the control services if needed, e.g. ("~/start", "/recorder/start").
            remappings=[],
        )
    ]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "params_file",
                default_value=PathJoinSubstitution([FindPackageShare("mosaico_bridge"), "config", "record.yaml"]),
                description="recorder parameters (ROS parameter YAML)",
            ),
            DeclareLaunchArgument("namespace", default_value="", description="node namespace"),
            DeclareLaunchArgument("server", default_value="", description="override: Mosaico server HOST:PORT"),
            DeclareLaunchArgument("sequence", default_value="", description="override: a fixed sequence name"),
            DeclareLaunchArgument(
                "use_sim_time", default_value="false", description="override: stamp messages with /clock (true|false)"
            ),
            DeclareLaunchArgument("log_level", default_value="info", description="RUST_LOG level"),
            OpaqueFunction(function=recorder),
        ]
    )
