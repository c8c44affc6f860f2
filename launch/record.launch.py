"""Starts the mosaico_bridge recorder.

    ros2 launch mosaico_bridge record.launch.py
    ros2 launch mosaico_bridge record.launch.py params_file:=/path/record.yaml namespace:=robot1 server:=fleet:6726

Every setting lives in the parameters file (config/record.yaml by default); `server` and `sequence`
override it when given, and the environment variable MOSAICO_SPOOL the spool directory (`spool.dir`). The recorder's services (~/start, ~/stop, ~/split) follow the namespace.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution, PythonExpression
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    params_file = LaunchConfiguration("params_file")
    server = LaunchConfiguration("server")
    sequence = LaunchConfiguration("sequence")
    args = [
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("mosaico_bridge"), "config", "record.yaml"]),
            description="recorder parameters (ROS parameter YAML)",
        ),
        DeclareLaunchArgument("namespace", default_value="", description="node namespace"),
        DeclareLaunchArgument("server", default_value="", description="override: Mosaico server HOST:PORT"),
        DeclareLaunchArgument("sequence", default_value="", description="override: a fixed sequence name"),
        DeclareLaunchArgument("log_level", default_value="info", description="RUST_LOG level"),
    ]

    def recorder(extra, condition=None):
        return Node(
            package="mosaico_bridge",
            executable="mosaico-bridge",
            name="mosaico_bridge",
            namespace=LaunchConfiguration("namespace"),
            arguments=["record", "--config", params_file, *extra],
            additional_env={"RUST_LOG": LaunchConfiguration("log_level")},
            output="screen",
            emulate_tty=True,
            # Remap the control services if needed, e.g. ("~/start", "/recorder/start").
            remappings=[],
            condition=condition,
        )

    # Overrides are passed only when set (an empty --server would be an error).
    both = PythonExpression(["'", server, "' != '' and '", sequence, "' != ''"])
    only_server = PythonExpression(["'", server, "' != '' and '", sequence, "' == ''"])
    only_sequence = PythonExpression(["'", server, "' == '' and '", sequence, "' != ''"])
    neither = PythonExpression(["'", server, "' == '' and '", sequence, "' == ''"])
    return LaunchDescription(
        args
        + [
            recorder(["--server", server, "--sequence", sequence], IfCondition(both)),
            recorder(["--server", server], IfCondition(only_server)),
            recorder(["--sequence", sequence], IfCondition(only_sequence)),
            recorder([], IfCondition(neither)),
        ]
    )
