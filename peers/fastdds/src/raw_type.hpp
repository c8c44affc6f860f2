// A topic type that carries a sample as its serialized bytes (encapsulation header included) under
// any DDS type name, so a reader matches any ROS type and sees exactly what was on the wire.
#pragma once

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <fastdds/dds/topic/TopicDataType.hpp>

struct RawSample {
    std::vector<uint8_t> bytes;
};

class RawType : public eprosima::fastdds::dds::TopicDataType {
public:
    explicit RawType(const std::string& dds_type_name) {
        setName(dds_type_name.c_str());
        // Only the initial allocation: readers use PREALLOCATED_WITH_REALLOC, as rmw_fastrtps.
        m_typeSize = 4096;
        m_isGetKeyDefined = false;
    }

    bool serialize(void* data, eprosima::fastrtps::rtps::SerializedPayload_t* payload) override {
        auto* s = static_cast<RawSample*>(data);
        if (s->bytes.size() > payload->max_size) {
            return false;
        }
        std::memcpy(payload->data, s->bytes.data(), s->bytes.size());
        payload->length = static_cast<uint32_t>(s->bytes.size());
        payload->encapsulation = (s->bytes.size() > 1 && s->bytes[1] == 0) ? CDR_BE : CDR_LE;
        return true;
    }

    bool deserialize(eprosima::fastrtps::rtps::SerializedPayload_t* payload, void* data) override {
        auto* s = static_cast<RawSample*>(data);
        s->bytes.assign(payload->data, payload->data + payload->length);
        return true;
    }

    std::function<uint32_t()> getSerializedSizeProvider(void* data) override {
        auto* s = static_cast<RawSample*>(data);
        return [s]() { return static_cast<uint32_t>(s->bytes.size()); };
    }

    void* createData() override { return new RawSample(); }
    void deleteData(void* data) override { delete static_cast<RawSample*>(data); }

    bool getKey(void*, eprosima::fastrtps::rtps::InstanceHandle_t*, bool) override { return false; }
};
