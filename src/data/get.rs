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
use arrow_flight::Ticket;
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
    if !batch.schema().fields().iter().any(|f| plain(f.data_type()).is_some()) {
        return Ok(batch);
    }
    let schema = normalize_schema(&batch.schema());
    let cols = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(c, f)| if c.data_type() == f.data_type() { Ok(c.clone()) } else { cast(c, f.data_type()) })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema, cols)?)
}

/// Keeps the rows whose `timestamp_ns` falls in `range`.
pub fn window(batch: RecordBatch, range: TimeRange) -> Result<RecordBatch> {
    let ts = batch
        .column_by_name(TIMESTAMP_COLUMN)
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .ok_or_else(|| Error::protocol("do_get", "stream has no int64 `timestamp_ns` column"))?;
    let mask: BooleanArray = ts.iter().map(|t| Some(t.is_some_and(|t| range.contains(t)))).collect();
    if mask.true_count() == batch.num_rows() {
        return Ok(batch);
    }
    Ok(filter_record_batch(&batch, &mask)?)
}

/// A topic's batches, in `timestamp_ns` order as the server sends them.
pub struct TopicStream {
    pub locator: String,
    inner: BoxStream<'static, Result<RecordBatch>>,
}

impl TopicStream {
    pub fn empty(locator: &str) -> Self {
        TopicStream { locator: locator.to_string(), inner: futures::stream::empty().boxed() }
    }

    pub async fn open(mut client: FlightClient, locator: &str, tickets: Vec<Ticket>, client_window: Option<TimeRange>) -> Result<Self> {
        let loc = locator.to_string();
        let mut streams = Vec::new();
        for t in tickets {
            let resp = client.do_get(t).await.map_err(|s| Error::from_status(&s, "do_get", &loc))?;
            let flight = resp.into_inner().map_err(|s| FlightError::Tonic(Box::new(s)));
            let l = loc.clone();
            let batches = FlightRecordBatchStream::new_from_flight_data(flight).map(move |r| {
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
            });
            streams.push(batches);
        }
        let inner = futures::stream::iter(streams).flatten().try_filter(|b| futures::future::ready(b.num_rows() > 0)).boxed();
        Ok(TopicStream { locator: loc, inner })
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
                Arc::new(BinaryViewArray::from(vec![Some(b"x".as_ref()), None, Some(b"z".as_ref())])),
            ],
        )
        .unwrap();
        let b = normalize_batch(batch).unwrap();
        assert_eq!(b.schema().field(1).data_type(), &DataType::Utf8);
        assert_eq!(b.schema().field(2).data_type(), &DataType::Binary);
        let w = window(b, TimeRange { start_ns: Some(2), end_ns: Some(3) }).unwrap();
        assert_eq!(w.num_rows(), 1);
        assert_eq!(w.column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0), 2);
    }
}
