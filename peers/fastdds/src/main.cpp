// fastdds_peer: an independent ROS 2 peer built on eProsima Fast DDS (Debian's libfastrtps 2.9), as
// a node on rmw_fastrtps_cpp (the default ROS 2 middleware) appears on the wire. Types come from
// fastddsgen on idl/ros2_msgs.idl (ROS 2's wire names). Usage: see usage() below and README.md.
//
// Like every DDS process of the tests it refuses to run unless the only network interface is `lo`
// (a loopback-only network namespace): DDS discovery multicasts.

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <openssl/evp.h>

#include <fastdds/dds/domain/DomainParticipant.hpp>
#include <fastdds/dds/domain/DomainParticipantFactory.hpp>
#include <fastdds/dds/publisher/DataWriter.hpp>
#include <fastdds/dds/publisher/Publisher.hpp>
#include <fastdds/dds/subscriber/DataReader.hpp>
#include <fastdds/dds/subscriber/DataReaderListener.hpp>
#include <fastdds/dds/subscriber/SampleInfo.hpp>
#include <fastdds/dds/subscriber/Subscriber.hpp>
#include <fastdds/dds/topic/Topic.hpp>
#include <fastdds/dds/topic/TypeSupport.hpp>
#include <fastdds/rtps/common/WriteParams.h>
#include <fastdds/rtps/transport/UDPv4TransportDescriptor.h>
#include <fastdds/rtps/transport/shared_mem/SharedMemTransportDescriptor.h>

#include "raw_type.hpp"
#include "ros2_msgs.h"
#include "ros2_msgsPubSubTypes.h"

using namespace eprosima::fastdds::dds;
using eprosima::fastrtps::rtps::SerializedPayload_t;
using eprosima::fastrtps::rtps::WriteParams;
namespace sm = sensor_msgs::msg::dds_;

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(int code, const std::string& msg) {
    std::cerr << "fastdds_peer: " << msg << std::endl;
    std::exit(code);
}

void usage() {
    std::cerr << R"(usage:
  fastdds_peer publish --topic NAME=KIND [--topic ...] --count N [--rate HZ] [--reliable]
      [--image-size WxH] [--points-size RxC] [--t0 SECONDS] [--wait-subscribers K]
      [--wait-timeout S] [--linger S] [--manifest FILE] [--transport default|udp|shm]
    KIND: imu (sensor_msgs/msg/Imu), image (sensor_msgs/msg/Image), points (sensor_msgs/msg/PointCloud2).
    Best effort unless --reliable; otherwise rmw_fastrtps's default QoS (volatile, keep last 10,
    synchronous publish mode). Message i of a topic (from 0) has header.stamp = t0 + i/rate and
    carries i: Imu angular_velocity.x = 0.01 i, linear_acceleration.x = 0.5 i (frame imu_link);
    Image rgb8, the last 8 bytes of data = i (uint64 little endian); PointCloud2 fields x, y, z,
    intensity (float32, point_step 16), the last point's four values = float(i). The manifest
    (default stdout) has one JSON line per message written (topic, index, stamp, len and sha256
    of the serialized payload, the fields above), then {"summary": ...}.
  fastdds_peer subscribe --topic NAME=ROS_TYPE[,best_effort][,transient_local] [--topic ...]
      [--depth D] [--duration S] [--idle-exit S] [--expect N] [--ready FILE] [--transport ...]
      [--count-only] [--rcvbuf BYTES]
    Reliable, volatile, keep last D (default 1000) readers taking payloads raw. One JSON line per
    message on stdout (topic, n, len, sha256 of the serialized payload with its 4-byte header,
    decoded fields of known types), then {"summary": ...}. Ends after S seconds (default 30),
    S seconds after the last message (--idle-exit), or once every topic has N messages (--expect).
    --count-only: the summary only (no hashing: a reader as fast as Fast DDS itself). --rcvbuf:
    SO_RCVBUF asked for every socket (any mode; the kernel clamps it to net.core.rmem_max).
  fastdds_peer call SERVICE [--timeout S] [--transport ...]
    Calls std_srvs/srv/Trigger SERVICE (e.g. /rec/start) as rmw_fastrtps does; prints
    {"service", "success", "message"}. Exit 3 when no reply came in time.
)";
}

bool loopback_only() {
    DIR* d = opendir("/sys/class/net");
    if (d == nullptr) {
        return false;
    }
    bool only_lo = true;
    while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != ".." && n != "lo") {
            only_lo = false;
        }
    }
    closedir(d);
    return only_lo;
}

std::string json_str(const std::string& s) {
    std::string o = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': o += "\\\""; break;
            case '\\': o += "\\\\"; break;
            case '\n': o += "\\n"; break;
            case '\r': o += "\\r"; break;
            case '\t': o += "\\t"; break;
            default:
                if (c < 0x20) {
                    char b[8];
                    std::snprintf(b, sizeof b, "\\u%04x", c);
                    o += b;
                } else {
                    o += static_cast<char>(c);
                }
        }
    }
    return o + "\"";
}

// Shortest text that reads back as the same double (JSON numbers the tests compare exactly).
std::string json_num(double v) {
    char b[40];
    for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(b, sizeof b, "%.*g", prec, v);
        if (std::strtod(b, nullptr) == v) {
            break;
        }
    }
    std::string s = b;
    if (s.find_first_of(".eEn") == std::string::npos) {
        s += ".0";
    }
    return s;
}

std::string sha256(const uint8_t* p, size_t n) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(p, n, md, &len, EVP_sha256(), nullptr) != 1) {
        die(1, "sha256 failed");
    }
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (unsigned int i = 0; i < len; ++i) {
        s += hex[md[i] >> 4];
        s += hex[md[i] & 15];
    }
    return s;
}

std::string sha256(const std::vector<uint8_t>& v) { return sha256(v.data(), v.size()); }

struct Args {
    std::string mode;
    std::vector<std::string> positional;
    std::multimap<std::string, std::string> opts;
    std::map<std::string, bool> flags;

    std::string get(const std::string& k, const std::string& dflt) const {
        auto it = opts.find(k);
        return it == opts.end() ? dflt : it->second;
    }
    double num(const std::string& k, double dflt) const {
        auto it = opts.find(k);
        if (it == opts.end()) {
            return dflt;
        }
        try {
            return std::stod(it->second);
        } catch (const std::exception&) {
            die(2, "--" + k + " takes a number, got " + it->second);
        }
    }
    std::vector<std::string> all(const std::string& k) const {
        std::vector<std::string> v;
        auto r = opts.equal_range(k);
        for (auto it = r.first; it != r.second; ++it) {
            v.push_back(it->second);
        }
        return v;
    }
};

Args parse(int argc, char** argv) {
    static const std::vector<std::string> flag_names = {"reliable", "count-only"};
    Args a;
    if (argc < 2) {
        usage();
        std::exit(2);
    }
    a.mode = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string s = argv[i];
        if (s.rfind("--", 0) == 0) {
            std::string k = s.substr(2);
            bool is_flag = false;
            for (auto& f : flag_names) {
                is_flag |= (f == k);
            }
            if (is_flag) {
                a.flags[k] = true;
            } else if (i + 1 < argc) {
                a.opts.emplace(k, argv[++i]);
            } else {
                die(2, s + " needs a value");
            }
        } else {
            a.positional.push_back(s);
        }
    }
    return a;
}

std::pair<uint32_t, uint32_t> size_pair(const std::string& s) {
    auto x = s.find('x');
    if (x == std::string::npos) {
        die(2, "expected AxB, got " + s);
    }
    return {static_cast<uint32_t>(std::stoul(s.substr(0, x))), static_cast<uint32_t>(std::stoul(s.substr(x + 1)))};
}

// `sensor_msgs/msg/Imu` -> `sensor_msgs::msg::dds_::Imu_`, as rosidl names types on the DDS wire.
std::string dds_type_name(const std::string& ros_type) {
    auto a = ros_type.find('/');
    auto b = ros_type.rfind('/');
    if (a == std::string::npos || a == b) {
        die(2, "a ROS type is pkg/msg/Name, got " + ros_type);
    }
    return ros_type.substr(0, a) + "::" + ros_type.substr(a + 1, b - a - 1) + "::dds_::" + ros_type.substr(b + 1) + "_";
}

// `/camera/image_raw` -> `rt/camera/image_raw`, as rmw names topics.
std::string dds_topic_name(const std::string& topic) {
    return "rt" + (topic.rfind('/', 0) == 0 ? topic : "/" + topic);
}

DomainParticipant* open_participant(const Args& a, const std::string& name) {
    DomainParticipantQos pq = PARTICIPANT_QOS_DEFAULT;
    pq.name(name);
    // What every rmw puts in the participant's USER_DATA.
    std::string enclave = "enclave=/;";
    pq.user_data().data_vec(std::vector<eprosima::fastrtps::rtps::octet>(enclave.begin(), enclave.end()));
    std::string transport = a.get("transport", "default");
    // SO_RCVBUF asked for (the kernel clamps it to net.core.rmem_max); 0: Fast DDS's default.
    uint32_t rcvbuf = static_cast<uint32_t>(a.num("rcvbuf", 0));
    if (rcvbuf > 0) {
        pq.transport().listen_socket_buffer_size = rcvbuf;
    }
    if (transport == "udp" || transport == "shm") {
        pq.transport().use_builtin_transports = false;
        if (transport == "udp") {
            auto udp = std::make_shared<eprosima::fastdds::rtps::UDPv4TransportDescriptor>();
            if (rcvbuf > 0) {
                udp->receiveBufferSize = rcvbuf;
            }
            pq.transport().user_transports.push_back(udp);
        } else {
            pq.transport().user_transports.push_back(std::make_shared<eprosima::fastdds::rtps::SharedMemTransportDescriptor>());
        }
    } else if (transport != "default") {
        die(2, "--transport is default, udp or shm");
    }
    int domain = 0;
    if (const char* d = std::getenv("ROS_DOMAIN_ID")) {
        domain = std::atoi(d);
    }
    DomainParticipant* p = DomainParticipantFactory::get_instance()->create_participant(domain, pq);
    if (p == nullptr) {
        die(1, "cannot create the DDS participant");
    }
    return p;
}

// rmw_fastrtps's endpoint settings on top of the ROS QoS profile.
DataWriterQos writer_qos(Publisher* pub, bool reliable, bool transient_local, int depth) {
    DataWriterQos q = pub->get_default_datawriter_qos();
    q.publish_mode().kind = eprosima::fastdds::dds::SYNCHRONOUS_PUBLISH_MODE;
    q.endpoint().history_memory_policy = eprosima::fastrtps::rtps::PREALLOCATED_WITH_REALLOC_MEMORY_MODE;
    q.data_sharing().off();
    q.reliability().kind = reliable ? RELIABLE_RELIABILITY_QOS : BEST_EFFORT_RELIABILITY_QOS;
    q.durability().kind = transient_local ? TRANSIENT_LOCAL_DURABILITY_QOS : VOLATILE_DURABILITY_QOS;
    q.history().kind = KEEP_LAST_HISTORY_QOS;
    q.history().depth = depth;
    return q;
}

DataReaderQos reader_qos(Subscriber* sub, bool reliable, bool transient_local, int depth) {
    DataReaderQos q = sub->get_default_datareader_qos();
    q.endpoint().history_memory_policy = eprosima::fastrtps::rtps::PREALLOCATED_WITH_REALLOC_MEMORY_MODE;
    q.data_sharing().off();
    q.reliability().kind = reliable ? RELIABLE_RELIABILITY_QOS : BEST_EFFORT_RELIABILITY_QOS;
    q.durability().kind = transient_local ? TRANSIENT_LOCAL_DURABILITY_QOS : VOLATILE_DURABILITY_QOS;
    q.history().kind = KEEP_LAST_HISTORY_QOS;
    q.history().depth = depth;
    return q;
}

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

// ---------------------------------------------------------------- publish

std_msgs::msg::dds_::Header_ header(int64_t stamp_ns, const std::string& frame) {
    std_msgs::msg::dds_::Header_ h;
    h.stamp().sec(static_cast<int32_t>(stamp_ns / 1000000000));
    h.stamp().nanosec(static_cast<uint32_t>(stamp_ns % 1000000000));
    h.frame_id(frame);
    return h;
}

std::string stamp_json(int64_t stamp_ns) {
    return "[" + std::to_string(stamp_ns / 1000000000) + "," + std::to_string(stamp_ns % 1000000000) + "]";
}

// One published topic: builds message i, serializes it with the generated type (Fast DDS's own CDR)
// for its hash, writes it.
struct Stream {
    std::string topic;
    std::string kind;
    TypeSupport type;
    DataWriter* writer = nullptr;
    uint64_t written = 0;
    uint64_t failed = 0;

    sm::Imu_ imu;
    sm::Image_ image;
    sm::PointCloud2_ points;

    void* sample() {
        if (kind == "imu") return &imu;
        if (kind == "image") return &image;
        return &points;
    }

    // Sets message i; returns its manifest fields (without topic and index).
    std::string build(uint64_t i, int64_t stamp_ns) {
        std::ostringstream o;
        if (kind == "imu") {
            imu.header(header(stamp_ns, "imu_link"));
            imu.orientation().x(0); imu.orientation().y(0); imu.orientation().z(0); imu.orientation().w(1);
            imu.angular_velocity().x(0.01 * static_cast<double>(i));
            imu.angular_velocity().y(0.02);
            imu.angular_velocity().z(-0.03);
            imu.linear_acceleration().x(0.5 * static_cast<double>(i));
            imu.linear_acceleration().y(-1.0);
            imu.linear_acceleration().z(9.81);
            for (int k = 0; k < 9; ++k) {
                bool diag = k % 4 == 0;
                imu.orientation_covariance()[k] = diag ? 0.001 : 0.0;
                imu.angular_velocity_covariance()[k] = diag ? 0.002 : 0.0;
                imu.linear_acceleration_covariance()[k] = diag ? 0.003 : 0.0;
            }
            o << "\"angular_velocity_x\":" << json_num(imu.angular_velocity().x())
              << ",\"linear_acceleration_x\":" << json_num(imu.linear_acceleration().x())
              << ",\"linear_acceleration_z\":" << json_num(imu.linear_acceleration().z());
        } else if (kind == "image") {
            image.header(header(stamp_ns, "camera_optical_frame"));
            auto& d = image.data();
            // The last 8 bytes carry i (little endian); the rest is fixed.
            for (int k = 0; k < 8; ++k) {
                d[d.size() - 8 + k] = static_cast<uint8_t>(i >> (8 * k));
            }
            o << "\"width\":" << image.width() << ",\"height\":" << image.height()
              << ",\"encoding\":" << json_str(image.encoding()) << ",\"step\":" << image.step()
              << ",\"data_sha256\":\"" << sha256(d) << "\"";
        } else {
            points.header(header(stamp_ns, "lidar_link"));
            auto& d = points.data();
            // The last point's x, y, z, intensity all equal float(i).
            float f = static_cast<float>(i);
            for (int k = 0; k < 4; ++k) {
                std::memcpy(&d[d.size() - 16 + 4 * k], &f, 4);
            }
            o << "\"width\":" << points.width() << ",\"height\":" << points.height()
              << ",\"point_step\":" << points.point_step() << ",\"row_step\":" << points.row_step()
              << ",\"data_sha256\":\"" << sha256(d) << "\"";
        }
        return o.str();
    }

    void setup(const Args& a) {
        if (kind == "image") {
            auto [w, h] = size_pair(a.get("image-size", "640x480"));
            image.width(w);
            image.height(h);
            image.encoding("rgb8");
            image.is_bigendian(0);
            image.step(3 * w);
            auto& d = image.data();
            d.resize(static_cast<size_t>(3) * w * h);
            for (uint32_t y = 0; y < h; ++y) {
                for (uint32_t x = 0; x < w; ++x) {
                    size_t p = (static_cast<size_t>(y) * w + x) * 3;
                    d[p] = static_cast<uint8_t>(x);
                    d[p + 1] = static_cast<uint8_t>(y);
                    d[p + 2] = static_cast<uint8_t>(x + y);
                }
            }
        } else if (kind == "points") {
            auto [rows, cols] = size_pair(a.get("points-size", "16x512"));
            points.height(rows);
            points.width(cols);
            const char* names[4] = {"x", "y", "z", "intensity"};
            for (uint32_t k = 0; k < 4; ++k) {
                sm::PointField_ f;
                f.name(names[k]);
                f.offset(4 * k);
                f.datatype(7);  // FLOAT32
                f.count(1);
                points.fields().push_back(f);
            }
            points.is_bigendian(false);
            points.point_step(16);
            points.row_step(16 * cols);
            points.is_dense(true);
            auto& d = points.data();
            d.resize(static_cast<size_t>(16) * rows * cols);
            for (uint32_t r = 0; r < rows; ++r) {
                for (uint32_t c = 0; c < cols; ++c) {
                    double az = 2 * M_PI * c / cols;
                    float v[4] = {static_cast<float>(10 * std::cos(az)), static_cast<float>(10 * std::sin(az)),
                                  static_cast<float>(0.1 * r), static_cast<float>((r * cols + c) % 256)};
                    std::memcpy(&d[(static_cast<size_t>(r) * cols + c) * 16], v, 16);
                }
            }
        }
    }
};

int publish(const Args& a) {
    auto specs = a.all("topic");
    if (specs.empty()) {
        die(2, "publish needs --topic NAME=KIND");
    }
    long count = static_cast<long>(a.num("count", 10));
    double rate = a.num("rate", 10);
    bool reliable = a.flags.count("reliable") > 0;
    int64_t t0 = static_cast<int64_t>(a.num("t0", 1700000000)) * 1000000000LL;
    int wait_subs = static_cast<int>(a.num("wait-subscribers", 0));
    double wait_timeout = a.num("wait-timeout", 60);
    double linger = a.num("linger", reliable ? 2 : 0.5);

    std::ofstream file;
    std::string manifest_path = a.get("manifest", "");
    if (!manifest_path.empty()) {
        file.open(manifest_path);
        if (!file) {
            die(1, "cannot write " + manifest_path);
        }
    }
    std::ostream& out = manifest_path.empty() ? std::cout : file;

    DomainParticipant* p = open_participant(a, "fastdds_peer");
    Publisher* pub = p->create_publisher(PUBLISHER_QOS_DEFAULT);
    std::vector<std::unique_ptr<Stream>> streams;
    for (auto& spec : specs) {
        auto eq = spec.find('=');
        if (eq == std::string::npos) {
            die(2, "--topic NAME=KIND, got " + spec);
        }
        auto s = std::make_unique<Stream>();
        s->topic = spec.substr(0, eq);
        s->kind = spec.substr(eq + 1);
        if (s->kind == "imu") {
            s->type = TypeSupport(new sm::Imu_PubSubType());
        } else if (s->kind == "image") {
            s->type = TypeSupport(new sm::Image_PubSubType());
        } else if (s->kind == "points") {
            s->type = TypeSupport(new sm::PointCloud2_PubSubType());
        } else {
            die(2, "KIND is imu, image or points, got " + s->kind);
        }
        s->setup(a);
        s->type.register_type(p);
        Topic* t = p->create_topic(dds_topic_name(s->topic), s->type.get_type_name(), TOPIC_QOS_DEFAULT);
        if (t == nullptr) {
            die(1, "cannot create topic " + s->topic);
        }
        s->writer = pub->create_datawriter(t, writer_qos(pub, reliable, false, 10));
        if (s->writer == nullptr) {
            die(1, "cannot create the writer of " + s->topic);
        }
        streams.push_back(std::move(s));
    }

    auto started = Clock::now();
    if (wait_subs > 0) {
        for (;;) {
            bool all = true;
            for (auto& s : streams) {
                PublicationMatchedStatus st;
                s->writer->get_publication_matched_status(st);
                all &= st.current_count >= wait_subs;
            }
            if (all) break;
            if (g_stop || std::chrono::duration<double>(Clock::now() - started).count() > wait_timeout) {
                die(4, "no subscriber matched every topic in time");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        // Matched on our side; give the remote reader a moment to match back.
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }

    auto period = std::chrono::duration<double>(1.0 / rate);
    auto t_start = Clock::now();
    for (long i = 0; i < count && !g_stop; ++i) {
        std::this_thread::sleep_until(t_start + std::chrono::duration_cast<Clock::duration>(period * i));
        int64_t stamp = t0 + static_cast<int64_t>(std::llround(static_cast<double>(i) * 1e9 / rate));
        for (auto& s : streams) {
            std::string fields = s->build(static_cast<uint64_t>(i), stamp);
            SerializedPayload_t payload(s->type.get_serialized_size_provider(s->sample())());
            if (!s->type.serialize(s->sample(), &payload)) {
                die(1, "cannot serialize message " + std::to_string(i) + " of " + s->topic);
            }
            bool ok = s->writer->write(s->sample());
            if (!ok) {
                s->failed++;
                continue;
            }
            s->written++;
            out << "{\"topic\":" << json_str(s->topic) << ",\"index\":" << i << ",\"stamp\":" << stamp_json(stamp)
                << ",\"len\":" << payload.length << ",\"sha256\":\"" << sha256(payload.data, payload.length) << "\","
                << fields << "}\n";
        }
    }
    if (reliable) {
        for (auto& s : streams) {
            s->writer->wait_for_acknowledgments(eprosima::fastrtps::Duration_t(linger));
        }
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(linger));
    out << "{\"summary\":{";
    for (size_t k = 0; k < streams.size(); ++k) {
        out << (k ? "," : "") << json_str(streams[k]->topic) << ":{\"written\":" << streams[k]->written
            << ",\"failed\":" << streams[k]->failed << ",\"reliable\":" << (reliable ? "true" : "false") << "}";
    }
    out << "}}" << std::endl;
    p->delete_contained_entities();
    DomainParticipantFactory::get_instance()->delete_participant(p);
    return 0;
}

// ---------------------------------------------------------------- subscribe

std::mutex g_out;

struct Listener : public DataReaderListener {
    std::string topic;
    std::string ros_type;
    bool count_only = false;
    std::atomic<uint64_t> received{0};
    std::atomic<int64_t> last_ns{0};

    template <class PubSub, class Msg>
    static bool decode(const std::vector<uint8_t>& b, Msg& m) {
        SerializedPayload_t payload(static_cast<uint32_t>(b.size()));
        std::memcpy(payload.data, b.data(), b.size());
        payload.length = static_cast<uint32_t>(b.size());
        PubSub ps;
        return ps.deserialize(&payload, &m);
    }

    static std::string stamp_of(const std_msgs::msg::dds_::Header_& h) {
        return "\"stamp\":[" + std::to_string(h.stamp().sec()) + "," + std::to_string(h.stamp().nanosec()) +
               "],\"frame_id\":" + json_str(h.frame_id());
    }

    std::string fields(const std::vector<uint8_t>& b) const {
        std::ostringstream o;
        bool ok = true;
        if (ros_type == "sensor_msgs/msg/Imu") {
            sm::Imu_ m;
            if ((ok = decode<sm::Imu_PubSubType>(b, m))) {
                o << "," << stamp_of(m.header()) << ",\"angular_velocity_x\":" << json_num(m.angular_velocity().x())
                  << ",\"linear_acceleration_x\":" << json_num(m.linear_acceleration().x())
                  << ",\"linear_acceleration_z\":" << json_num(m.linear_acceleration().z());
            }
        } else if (ros_type == "sensor_msgs/msg/Image") {
            sm::Image_ m;
            if ((ok = decode<sm::Image_PubSubType>(b, m))) {
                o << "," << stamp_of(m.header()) << ",\"width\":" << m.width() << ",\"height\":" << m.height()
                  << ",\"encoding\":" << json_str(m.encoding()) << ",\"step\":" << m.step()
                  << ",\"data_sha256\":\"" << sha256(m.data()) << "\"";
            }
        } else if (ros_type == "sensor_msgs/msg/PointCloud2") {
            sm::PointCloud2_ m;
            if ((ok = decode<sm::PointCloud2_PubSubType>(b, m))) {
                o << "," << stamp_of(m.header()) << ",\"width\":" << m.width() << ",\"height\":" << m.height()
                  << ",\"point_step\":" << m.point_step() << ",\"row_step\":" << m.row_step()
                  << ",\"data_sha256\":\"" << sha256(m.data()) << "\"";
            }
        } else if (ros_type == "diagnostic_msgs/msg/DiagnosticArray") {
            diagnostic_msgs::msg::dds_::DiagnosticArray_ m;
            if ((ok = decode<diagnostic_msgs::msg::dds_::DiagnosticArray_PubSubType>(b, m))) {
                o << "," << stamp_of(m.header()) << ",\"status\":[";
                for (size_t k = 0; k < m.status().size(); ++k) {
                    auto& s = m.status()[k];
                    o << (k ? "," : "") << "{\"name\":" << json_str(s.name()) << ",\"level\":" << int(s.level())
                      << ",\"message\":" << json_str(s.message()) << ",\"values\":{";
                    for (size_t v = 0; v < s.values().size(); ++v) {
                        o << (v ? "," : "") << json_str(s.values()[v].key()) << ":" << json_str(s.values()[v].value());
                    }
                    o << "}}";
                }
                o << "]";
            }
        }
        if (!ok) {
            return ",\"decoded\":false";
        }
        return o.str();
    }

    void on_data_available(DataReader* reader) override {
        RawSample s;
        SampleInfo info;
        while (reader->take_next_sample(&s, &info) == ReturnCode_t::RETCODE_OK) {
            if (!info.valid_data) {
                continue;
            }
            uint64_t n = received++;
            last_ns = Clock::now().time_since_epoch().count();
            if (count_only) {
                continue;
            }
            std::string f = fields(s.bytes);
            std::lock_guard<std::mutex> g(g_out);
            std::cout << "{\"topic\":" << json_str(topic) << ",\"n\":" << n << ",\"len\":" << s.bytes.size()
                      << ",\"sha256\":\"" << sha256(s.bytes) << "\",\"source_timestamp_ns\":"
                      << info.source_timestamp.to_ns() << f << "}\n";
        }
    }
};

int subscribe(const Args& a) {
    auto specs = a.all("topic");
    if (specs.empty()) {
        die(2, "subscribe needs --topic NAME=ROS_TYPE");
    }
    int depth = static_cast<int>(a.num("depth", 1000));
    double duration = a.num("duration", 30);
    double idle_exit = a.num("idle-exit", 0);
    long expect = static_cast<long>(a.num("expect", 0));

    DomainParticipant* p = open_participant(a, "fastdds_peer_listener");
    Subscriber* sub = p->create_subscriber(SUBSCRIBER_QOS_DEFAULT);
    std::vector<std::unique_ptr<Listener>> listeners;
    std::vector<DataReader*> readers;
    for (auto& spec : specs) {
        std::vector<std::string> parts;
        std::stringstream ss(spec);
        for (std::string x; std::getline(ss, x, ',');) {
            parts.push_back(x);
        }
        auto eq = parts[0].find('=');
        if (eq == std::string::npos) {
            die(2, "--topic NAME=ROS_TYPE[,best_effort][,transient_local], got " + spec);
        }
        bool reliable = true, transient_local = false;
        for (size_t k = 1; k < parts.size(); ++k) {
            if (parts[k] == "best_effort") reliable = false;
            else if (parts[k] == "transient_local") transient_local = true;
            else if (parts[k] != "reliable" && parts[k] != "volatile") die(2, "unknown QoS word " + parts[k]);
        }
        auto l = std::make_unique<Listener>();
        l->topic = parts[0].substr(0, eq);
        l->ros_type = parts[0].substr(eq + 1);
        l->count_only = a.flags.count("count-only") > 0;
        TypeSupport type(new RawType(dds_type_name(l->ros_type)));
        type.register_type(p);
        Topic* t = p->create_topic(dds_topic_name(l->topic), type.get_type_name(), TOPIC_QOS_DEFAULT);
        if (t == nullptr) {
            die(1, "cannot create topic " + l->topic);
        }
        DataReader* r = sub->create_datareader(t, reader_qos(sub, reliable, transient_local, depth), l.get());
        if (r == nullptr) {
            die(1, "cannot create the reader of " + l->topic);
        }
        readers.push_back(r);
        listeners.push_back(std::move(l));
    }
    std::string ready = a.get("ready", "");
    if (!ready.empty()) {
        std::ofstream(ready) << "ready\n";
    }

    auto started = Clock::now();
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        auto now = Clock::now();
        if (g_stop || std::chrono::duration<double>(now - started).count() > duration) break;
        bool all_expected = expect > 0;
        int64_t last = 0;
        for (auto& l : listeners) {
            all_expected &= static_cast<long>(l->received.load()) >= expect;
            last = std::max(last, l->last_ns.load());
        }
        if (all_expected) break;
        if (idle_exit > 0 && last > 0 &&
            std::chrono::duration<double>(now.time_since_epoch() - Clock::duration(last)).count() > idle_exit) {
            break;
        }
    }
    for (size_t k = 0; k < readers.size(); ++k) {
        readers[k]->set_listener(nullptr);
    }
    {
        std::lock_guard<std::mutex> g(g_out);
        std::cout << "{\"summary\":{";
        for (size_t k = 0; k < listeners.size(); ++k) {
            SubscriptionMatchedStatus st;
            readers[k]->get_subscription_matched_status(st);
            std::cout << (k ? "," : "") << json_str(listeners[k]->topic) << ":{\"received\":"
                      << listeners[k]->received.load() << ",\"matched_writers\":" << st.total_count << "}";
        }
        std::cout << "}}" << std::endl;
    }
    p->delete_contained_entities();
    DomainParticipantFactory::get_instance()->delete_participant(p);
    return 0;
}

// ---------------------------------------------------------------- call

int call(const Args& a) {
    if (a.positional.size() != 1) {
        die(2, "call SERVICE");
    }
    std::string service = a.positional[0];
    if (service.rfind('/', 0) != 0) {
        service = "/" + service;
    }
    double timeout = a.num("timeout", 30);

    DomainParticipant* p = open_participant(a, "fastdds_peer_client");
    TypeSupport req_type(new std_srvs::srv::dds_::Trigger_Request_PubSubType());
    TypeSupport rep_type(new std_srvs::srv::dds_::Trigger_Response_PubSubType());
    req_type.register_type(p);
    rep_type.register_type(p);
    // rmw_fastrtps: requests on rq/<service>Request, replies on rr/<service>Reply.
    Topic* rq = p->create_topic("rq" + service + "Request", req_type.get_type_name(), TOPIC_QOS_DEFAULT);
    Topic* rr = p->create_topic("rr" + service + "Reply", rep_type.get_type_name(), TOPIC_QOS_DEFAULT);
    if (rq == nullptr || rr == nullptr) {
        die(1, "cannot create the service topics of " + service);
    }
    Publisher* pub = p->create_publisher(PUBLISHER_QOS_DEFAULT);
    Subscriber* sub = p->create_subscriber(SUBSCRIBER_QOS_DEFAULT);
    // rmw_qos_profile_services_default: reliable, volatile, keep last 10.
    DataReader* reader = sub->create_datareader(rr, reader_qos(sub, true, false, 10));
    DataWriter* writer = pub->create_datawriter(rq, writer_qos(pub, true, false, 10));
    if (reader == nullptr || writer == nullptr) {
        die(1, "cannot create the service endpoints of " + service);
    }

    auto started = Clock::now();
    auto left = [&]() { return timeout - std::chrono::duration<double>(Clock::now() - started).count(); };
    for (;;) {
        PublicationMatchedStatus ps;
        SubscriptionMatchedStatus ss;
        writer->get_publication_matched_status(ps);
        reader->get_subscription_matched_status(ss);
        if (ps.current_count > 0 && ss.current_count > 0) break;
        if (g_stop || left() <= 0) die(3, "service " + service + " not found in time");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // The server's reply writer must also have matched our reader; that side cannot be observed.
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));

    std_srvs::srv::dds_::Trigger_Request_ request;
    WriteParams wp;
    // As rmw_fastrtps: the related sample identity names the client's reply reader, so the server
    // can answer that reader; the request's own identity (writer guid, sequence number) comes back
    // in the reply's related sample identity.
    wp.related_sample_identity().writer_guid() = reader->guid();
    if (!writer->write(&request, wp)) {
        die(1, "cannot send the request");
    }
    auto sent = wp.sample_identity();

    std_srvs::srv::dds_::Trigger_Response_ reply;
    SampleInfo info;
    while (left() > 0 && !g_stop) {
        if (!reader->wait_for_unread_message(eprosima::fastrtps::Duration_t(std::min(left(), 0.2)))) {
            continue;
        }
        while (reader->take_next_sample(&reply, &info) == ReturnCode_t::RETCODE_OK) {
            if (!info.valid_data) continue;
            auto& rel = info.related_sample_identity;
            bool ours = (rel.writer_guid() == reader->guid() || rel.writer_guid() == writer->guid()) &&
                        rel.sequence_number() == sent.sequence_number();
            if (!ours) {
                std::cerr << "fastdds_peer: a reply to another request, ignored" << std::endl;
                continue;
            }
            std::cout << "{\"service\":" << json_str(service) << ",\"success\":" << (reply.success() ? "true" : "false")
                      << ",\"message\":" << json_str(reply.message()) << "}" << std::endl;
            p->delete_contained_entities();
            DomainParticipantFactory::get_instance()->delete_participant(p);
            return 0;
        }
    }
    die(3, "no reply from " + service + " in time");
}

}  // namespace

int main(int argc, char** argv) {
    Args a = parse(argc, argv);
    if (a.mode == "-h" || a.mode == "--help" || a.mode == "help") {
        usage();
        return 0;
    }
    if (!loopback_only()) {
        die(2, "refusing to open a DDS participant: this network namespace has interfaces other than lo "
               "(DDS discovery multicasts; run inside a loopback-only namespace, see README)");
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    if (a.mode == "publish") return publish(a);
    if (a.mode == "subscribe") return subscribe(a);
    if (a.mode == "call") return call(a);
    usage();
    return 2;
}
