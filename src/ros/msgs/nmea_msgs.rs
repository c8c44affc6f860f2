//! `nmea_msgs` (not in the stock ROS typestores; definition `std_msgs/Header header, string sentence`).

use super::std_msgs::Header;

ros_message! { Sentence = "nmea_msgs/msg/Sentence" { header: Header, sentence: String } }
