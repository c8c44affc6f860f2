//! The raw-CDR fallback (`RosMessageCdr`): the bytes as received. Replay needs no encoder: the
//! `data` column is the message.

use std::sync::Arc;

use arrow::array::{ArrayBuilder, BinaryBuilder, Int64Builder, RecordBatch};
use arrow::datatypes::SchemaRef;

use super::finish_binary;
use crate::protocol::Generation;
use crate::ros::adapters::columns::{binary_len, Columns, HeaderB};
use crate::ros::adapters::{ts_builder, Convert};
use crate::ros::RosError;

pub(crate) struct RawConv {
    ts: Int64Builder,
    env: Option<HeaderB>,
    data: BinaryBuilder,
}

impl RawConv {
    pub fn new(gen: Generation) -> Self {
        RawConv {
            ts: ts_builder(),
            env: (gen == Generation::Legacy).then(|| HeaderB::new(gen)),
            data: BinaryBuilder::new(),
        }
    }
}

impl Convert for RawConv {
    fn push(&mut self, timestamp_ns: i64, cdr: &[u8]) -> Result<(), RosError> {
        if i32::try_from(binary_len(&self.data) + cdr.len()).is_err() {
            return Err(RosError::Arrow(
                "batch over 2 GiB: finish() it first".into(),
            ));
        }
        self.ts.append_value(timestamp_ns);
        self.data.append_value(cdr);
        if let Some(env) = &mut self.env {
            env.push(None);
        }
        Ok(())
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, RosError> {
        let rows = self.ts.len();
        let mut cols = Columns::default();
        cols.put("timestamp_ns", Arc::new(self.ts.finish()));
        if let Some(env) = &mut self.env {
            env.finish("message_header", &mut cols);
        }
        cols.put("data", finish_binary(&mut self.data));
        cols.assemble(schema, rows)
    }

    fn len(&self) -> usize {
        self.ts.len()
    }

    fn buffered_bytes(&self) -> usize {
        binary_len(&self.data)
    }
}
