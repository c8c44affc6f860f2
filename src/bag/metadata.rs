//! rosbag2's `metadata.yaml` (format version 8, as Jazzy writes it; Humble and rosbags read it).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::BagError;

pub const FILE_NAME: &str = "metadata.yaml";
pub const VERSION: u32 = 8;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Nanoseconds {
    pub nanoseconds: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SinceEpoch {
    pub nanoseconds_since_epoch: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TopicMetadata {
    pub name: String,
    #[serde(rename = "type")]
    pub ros_type: String,
    pub serialization_format: String,
    /// YAML of the publishers' QoS profiles (a string, as rosbag2 writes it).
    pub offered_qos_profiles: String,
    pub type_description_hash: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TopicWithCount {
    pub topic_metadata: TopicMetadata,
    pub message_count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileInfo {
    pub path: String,
    pub starting_time: SinceEpoch,
    pub duration: Nanoseconds,
    pub message_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BagMetadata {
    pub version: u32,
    pub storage_identifier: String,
    pub duration: Nanoseconds,
    pub starting_time: SinceEpoch,
    pub message_count: u64,
    pub topics_with_message_count: Vec<TopicWithCount>,
    pub compression_format: String,
    pub compression_mode: String,
    pub relative_file_paths: Vec<String>,
    pub files: Vec<FileInfo>,
    pub custom_data: BTreeMap<String, String>,
    pub ros_distro: String,
}

impl Default for BagMetadata {
    fn default() -> Self {
        BagMetadata {
            version: VERSION,
            storage_identifier: "mcap".into(),
            duration: Nanoseconds::default(),
            starting_time: SinceEpoch::default(),
            message_count: 0,
            topics_with_message_count: vec![],
            compression_format: String::new(),
            compression_mode: String::new(),
            relative_file_paths: vec![],
            files: vec![],
            custom_data: BTreeMap::new(),
            ros_distro: std::env::var("ROS_DISTRO").unwrap_or_default(),
        }
    }
}

#[derive(Debug, Serialize)]
struct Document {
    rosbag2_bagfile_information: BagMetadata,
}

#[derive(Debug, Deserialize)]
struct ReadDocument {
    rosbag2_bagfile_information: BagFiles,
}

/// What a reader needs of any version's `metadata.yaml` (topic entries differ between versions,
/// and the storage files say the rest).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BagFiles {
    pub version: u32,
    pub storage_identifier: String,
    pub message_count: u64,
    pub relative_file_paths: Vec<String>,
    /// `zstd` or empty.
    pub compression_format: String,
    /// `file`, `message` or empty (rosbag2 writes `""` or `NONE` for none).
    pub compression_mode: String,
}

impl BagMetadata {
    /// Reads the storage files of `dir/metadata.yaml` (any version rosbag2 writes).
    pub fn read_files(dir: &Path) -> Result<BagFiles, BagError> {
        let path = dir.join(FILE_NAME);
        let text = std::fs::read_to_string(&path).map_err(BagError::io(&path))?;
        let doc: ReadDocument =
            serde_yaml_ng::from_str(&text).map_err(|source| BagError::Metadata {
                path: path.clone(),
                source,
            })?;
        Ok(doc.rosbag2_bagfile_information)
    }

    /// Recomputes the bag-wide totals from `files` and `topics_with_message_count`.
    pub fn total(&mut self) {
        self.relative_file_paths = self.files.iter().map(|f| f.path.clone()).collect();
        self.message_count = self.files.iter().map(|f| f.message_count).sum();
        let start = self
            .files
            .iter()
            .filter(|f| f.message_count > 0)
            .map(|f| f.starting_time.nanoseconds_since_epoch)
            .min();
        let end = self
            .files
            .iter()
            .filter(|f| f.message_count > 0)
            .map(|f| f.starting_time.nanoseconds_since_epoch + f.duration.nanoseconds)
            .max();
        if let (Some(s), Some(e)) = (start, end) {
            self.starting_time.nanoseconds_since_epoch = s;
            self.duration.nanoseconds = e - s;
        }
    }

    /// Writes `metadata.yaml` atomically (a temporary file renamed over it, then synced).
    pub fn write(&self, dir: &Path) -> Result<(), BagError> {
        let path = dir.join(FILE_NAME);
        let tmp = dir.join(".metadata.yaml.tmp");
        let text = serde_yaml_ng::to_string(&Document {
            rosbag2_bagfile_information: self.clone(),
        })
        .map_err(|source| BagError::Metadata {
            path: path.clone(),
            source,
        })?;
        write_atomic(&tmp, &path, text.as_bytes())
    }
}

/// Writes `bytes` to `tmp`, syncs it and renames it over `path`, then syncs the directory.
pub fn write_atomic(tmp: &Path, path: &Path, bytes: &[u8]) -> Result<(), BagError> {
    use std::io::Write;
    let mut f = std::fs::File::create(tmp).map_err(BagError::io(tmp))?;
    f.write_all(bytes).map_err(BagError::io(tmp))?;
    f.sync_all().map_err(BagError::io(tmp))?;
    std::fs::rename(tmp, path).map_err(BagError::io(path))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}
