"""Replays a Mosaico sequence into ROS 2 (mosaico_bridge's player).

    ros2 launch mosaico_bridge play.launch.py sequence:=run_42
    ros2 launch mosaico_bridge play.launch.py sequence:=run_42 params_file:=/path/play.yaml server:=fleet:6726 rate:=2.0

Settings live in the parameters file (config/play.yaml by default); `server` and `rate` override
it when given. The player's services (rosbag2_interfaces: ~/pause, ~/resume, ~/toggle_paused,
~/is_paused, ~/get_rate, ~/set_rate, ~/play_next, ~/burst, ~/seek, ~/stop) are under the node,
/rosbag2_player by default, as `ros2 bag play` serves them.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def player(context):
    sequence = LaunchConfiguration("sequence").perform(context)
    if not sequence:
        raise RuntimeError("play.launch.py: give the sequence to play, e.g. sequence:=run_42")
    arguments = ["play", sequence, "--config", LaunchConfiguration("params_file").perform(context)]
    # Overrides are passed only when set (an empty --server would be an error).
    for flag in ("server", "rate"):
        value = LaunchConfiguration(flag).perform(context)
        if value:
            arguments += [f"--{flag}", value]
    return [
        Node(
            package="mosaico_bridge",
            executable="mosaico-bridge",
            name=LaunchConfiguration("node_name"),
            namespace=LaunchConfiguration("namespace"),
            arguments=arguments,
            additional_env={"RUST_LOG": LaunchConfiguration("log_level")},
            output="screen",
            emulate_tty=True,
        )
    ]


def generate_launch_description():
    return LaunchDescription(
        [
            DeclareLaunchArgument("sequence", description="the Mosaico sequence to play"),
            DeclareLaunchArgument(
                "params_file",
                default_value=PathJoinSubstitution([FindPackageShare("mosaico_bridge"), "config", "play.yaml"]),
                description="player parameters (ROS parameter YAML)",
            ),
            DeclareLaunchArgument("server", default_value="", description="override: Mosaico server HOST:PORT"),
            DeclareLaunchArgument("rate", default_value="", description="override: playback rate (factor or max)"),
            DeclareLaunchArgument("node_name", default_value="rosbag2_player", description="the player node's name"),
            DeclareLaunchArgument("namespace", default_value="", description="node namespace"),
            DeclareLaunchArgument("log_level", default_value="info", description="RUST_LOG level"),
            OpaqueFunction(function=player),
        ]
    )
