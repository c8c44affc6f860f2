//! Reading a topic: DoGet as a stream of record batches in the topic's written types.
//!
//! mosaicod's DataFusion answers top-level strings and binaries as `Utf8View` / `BinaryView`
//! (§4.2); readers downstream want one shape, so those columns are cast back to `Utf8` / `Binary`.
//! A window the server cannot apply (legacy) is applied here.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arrow::array::{Array, BooleanArray, Int64Array, RecordBatch};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::{FlightData, Ticket};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};

use crate::control::FlightClient;
use crate::error::{Error, Result};
use crate::protocol::TimeRange;

pub const TIMESTAMP_COLUMN: &str = "timestamp_ns";

fn plain(dt: &DataType) -> Option<DataType> {
    match dt {
        DataType::Utf8View | DataType::LargeUtf8 => Some(DataType::Utf8),
        DataType::BinaryView | DataType::LargeBinary => Some(DataType::Binary),
        _ => None,
    }
}

/// The schema with top-level view/large string and binary columns made plain.
pub fn normalize_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match plain(f.data_type()) {
            Some(dt) => f.as_ref().clone().with_data_type(dt),
            None => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Casts top-level view columns to plain arrays (a no-op for plain batches).
pub fn normalize_batch(batch: RecordBatch) -> Result<RecordBatch> {
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|f| plain(f.data_type()).is_some())
    {
        return Ok(batch);
    }
    let schema = normalize_schema(&batch.schema());
    let cols = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                cast(c, f.data_type())
            }
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema, cols)?)
}

/// Keeps the rows whose `timestamp_ns` falls in `range`.
pub fn window(batch: RecordBatch, range: TimeRange) -> Result<RecordBatch> {
    let ts = batch
        .column_by_name(TIMESTAMP_COLUMN)
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .ok_or_else(|| Error::protocol("do_get", "stream has no int64 `timestamp_ns` column"))?;
    let mask: BooleanArray = ts
        .iter()
        .map(|t| Some(t.is_some_and(|t| range.contains(t))))
        .collect();
    if mask.true_count() == batch.num_rows() {
        return Ok(batch);
    }
    Ok(filter_record_batch(&batch, &mask)?)
}

/// Widest fixed-size element an Arrow buffer holds (i256); buffer lengths are padded to it.
const PAD: u64 = 32;

/// Checks the buffers of a DoGet message before arrow-ipc (60) decodes it, which panics on two
/// kinds of malformed header instead of returning an error (found by the `do_get` fuzz target):
/// a buffer outside the message body (sliced unchecked), and a buffer whose length is not a
/// multiple of its element size (asserted while validating offsets or views). A buffer outside
/// the body refuses the message. Every length is rounded up to a multiple of the widest element
/// (the bytes after it are the writer's padding, or zeros appended to a copy of the body when the
/// writer padded less): arrays only read what their own length needs, so valid data reads the
/// same. Headers that do not parse are left to the decoder, which reports them.
fn check_buffers(mut fd: FlightData) -> std::result::Result<FlightData, FlightError> {
    use arrow::ipc::MessageHeader;
    let Ok(message) = arrow::ipc::root_as_message(&fd.data_header) else {
        return Ok(fd);
    };
    let batch = match message.header_type() {
        MessageHeader::RecordBatch => message.header_as_record_batch(),
        MessageHeader::DictionaryBatch => {
            message.header_as_dictionary_batch().and_then(|d| d.data())
        }
        _ => None,
    };
    let Some(buffers) = batch.and_then(|b| b.buffers()) else {
        return Ok(fd);
    };
    let body = fd.data_body.len() as u64;
    let mut padded = Vec::new();
    let mut end = body;
    for (i, b) in buffers.iter().enumerate() {
        let bad = || {
            FlightError::ProtocolError(format!(
                "DoGet message: buffer {i} (offset {}, length {}) lies outside the {body}-byte body",
                b.offset(),
                b.length()
            ))
        };
        let offset = u64::try_from(b.offset()).map_err(|_| bad())?;
        let length = u64::try_from(b.length()).map_err(|_| bad())?;
        if offset.checked_add(length).is_none_or(|e| e > body) {
            return Err(bad());
        }
        // Cannot overflow: offset + length <= body, a usize.
        let pad = length.next_multiple_of(PAD);
        if pad != length {
            padded.push((i, pad));
            end = end.max(offset + pad);
        }
    }
    if !padded.is_empty() {
        // The buffers are 16-byte structs (offset, length: little-endian i64) laid inline in the
        // header; rewrite the lengths in a copy of it.
        let at = buffers.bytes().as_ptr() as usize - fd.data_header.as_ptr() as usize;
        let mut header = fd.data_header.to_vec();
        for (i, pad) in padded {
            let p = at + 16 * i + 8;
            header[p..p + 8].copy_from_slice(&(pad as i64).to_le_bytes());
        }
        fd.data_header = header.into();
        if end > body {
            let mut b = Vec::with_capacity(end as usize);
            b.extend_from_slice(&fd.data_body);
            b.resize(end as usize, 0);
            fd.data_body = b.into();
        }
    }
    Ok(fd)
}

/// A topic's batches, in `timestamp_ns` order as the server sends them.
pub struct TopicStream {
    pub locator: String,
    inner: BoxStream<'static, Result<RecordBatch>>,
}

impl TopicStream {
    pub fn empty(locator: &str) -> Self {
        TopicStream {
            locator: locator.to_string(),
            inner: futures::stream::empty().boxed(),
        }
    }

    pub async fn open(
        mut client: FlightClient,
        locator: &str,
        tickets: Vec<Ticket>,
        client_window: Option<TimeRange>,
    ) -> Result<Self> {
        let mut streams = Vec::new();
        for t in tickets {
            let resp = client
                .do_get(t)
                .await
                .map_err(|s| Error::from_status(&s, "do_get", locator))?;
            streams.push(
                resp.into_inner()
                    .map_err(|s| FlightError::Tonic(Box::new(s)))
                    .boxed(),
            );
        }
        Ok(Self::from_flight_data(locator, streams, client_window))
    }

    /// The batches of DoGet replies (one FlightData stream per ticket, in order): decoded, views
    /// made plain, the client-side window applied, empty batches left out.
    pub fn from_flight_data(
        locator: &str,
        flights: Vec<BoxStream<'static, std::result::Result<FlightData, FlightError>>>,
        client_window: Option<TimeRange>,
    ) -> Self {
        let loc = locator.to_string();
        let streams = flights.into_iter().map(move |flight| {
            let l = loc.clone();
            let flight = flight.and_then(|fd| futures::future::ready(check_buffers(fd)));
            FlightRecordBatchStream::new_from_flight_data(flight).map(move |r| {
                let b = r.map_err(|e| match e {
                    FlightError::Tonic(s) => Error::from_status(&s, "do_get", &l),
                    FlightError::Arrow(a) => Error::Arrow(a),
                    other => Error::protocol("do_get", other.to_string()),
                })?;
                let b = normalize_batch(b)?;
                match client_window {
                    Some(w) => window(b, w),
                    None => Ok(b),
                }
            })
        });
        let inner = futures::stream::iter(streams.collect::<Vec<_>>())
            .flatten()
            .try_filter(|b| futures::future::ready(b.num_rows() > 0))
            .boxed();
        TopicStream {
            locator: locator.to_string(),
            inner,
        }
    }
}

impl Stream for TopicStream {
    type Item = Result<RecordBatch>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BinaryViewArray, StringViewArray};

    #[test]
    fn views_become_plain_and_window_filters() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("timestamp_ns", DataType::Int64, false),
            Field::new("s", DataType::Utf8View, false),
            Field::new("b", DataType::BinaryView, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringViewArray::from(vec!["a", "b", "c"])),
                Arc::new(BinaryViewArray::from(vec![
                    Some(b"x".as_ref()),
                    None,
                    Some(b"z".as_ref()),
                ])),
            ],
        )
        .unwrap();
        let b = normalize_batch(batch).unwrap();
        assert_eq!(b.schema().field(1).data_type(), &DataType::Utf8);
        assert_eq!(b.schema().field(2).data_type(), &DataType::Binary);
        let w = window(
            b,
            TimeRange {
                start_ns: Some(2),
                end_ns: Some(3),
            },
        )
        .unwrap();
        assert_eq!(w.num_rows(), 1);
        assert_eq!(
            w.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .value(0),
            2
        );
    }
}
