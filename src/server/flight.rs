//! The Flight service: turns RPCs into [`Store`] operations with mosaicod's wire shapes.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::compute::{cast, concat_batches, sort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow_flight::decode::{DecodedPayload, FlightDataDecoder};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_descriptor::DescriptorType;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaAsIpc, SchemaResult, Ticket,
};
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Value};
use tonic::{Request, Response, Status, Streaming};
use tracing::{info_span, Instrument};

use super::actions;
use super::store::*;
use super::ServerConfig;
use crate::protocol::Generation;

type Stream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

pub const API_KEY_HEADER: &str = "mosaico-api-key-token";

pub struct MosaicoFlight {
    pub store: Arc<Mutex<Store>>,
    pub config: Arc<ServerConfig>,
}

fn status(f: Fault) -> Status {
    match f {
        Fault::Internal(m) => Status::internal(m),
        Fault::InvalidArgument(m) => Status::invalid_argument(m),
        Fault::Unauthenticated(m) => Status::unauthenticated(m),
        Fault::Dead => Status::unavailable(
            "the server process has aborted (an empty `$in` or a DoGet of rows over the target \
             message size crashes mosaicod, §12.17)",
        ),
    }
}

/// Top-level strings and binaries as DataFusion returns them from parquet (`*View`, §4.2).
fn view_types(batch: &RecordBatch) -> Result<RecordBatch, Status> {
    let mut fields = Vec::new();
    let mut cols = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        let to = match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 => Some(DataType::Utf8View),
            DataType::Binary | DataType::LargeBinary => Some(DataType::BinaryView),
            _ => None,
        };
        match to {
            Some(dt) => {
                let v = cast(c, &dt)
                    .map_err(|e| Status::internal(format!("flight encoding error: {e}")))?;
                // A cast slice still points into the whole column's data buffer, which IPC would
                // send in full with every batch: compact it to this batch's bytes, as DataFusion's
                // own batches are.
                let v: ArrayRef = match v.data_type() {
                    DataType::BinaryView => Arc::new(v.as_binary_view().gc()),
                    _ => Arc::new(v.as_string_view().gc()),
                };
                cols.push(v);
                fields.push(
                    Field::new(f.name(), dt, f.is_nullable()).with_metadata(f.metadata().clone()),
                );
            }
            None => {
                cols.push(c.clone());
                fields.push(f.as_ref().clone());
            }
        }
    }
    RecordBatch::try_new(
        Arc::new(Schema::new_with_metadata(
            fields,
            batch.schema().metadata().clone(),
        )),
        cols,
    )
    .map_err(|e| Status::internal(format!("flight encoding error: {e}")))
}

/// Struct slots that are null come back from mosaicod's parquet as structs whose fields are all
/// null (observed on the legacy server): push each struct's nulls down into its children.
pub fn nulls_into_children(col: &arrow::array::ArrayRef) -> arrow::array::ArrayRef {
    use arrow::array::{make_array, Array, AsArray, StructArray};
    use arrow::buffer::NullBuffer;
    let DataType::Struct(fields) = col.data_type() else {
        return col.clone();
    };
    let s = col.as_struct();
    let parent = s.nulls().cloned();
    let children = s
        .columns()
        .iter()
        .map(|c| {
            let merged = NullBuffer::union(parent.as_ref(), c.nulls());
            let data = c
                .to_data()
                .into_builder()
                .nulls(merged)
                .build()
                .expect("same length");
            nulls_into_children(&make_array(data))
        })
        .collect();
    std::sync::Arc::new(StructArray::new(fields.clone(), children, None))
}

/// A topic's rows ordered by `timestamp_ns` (the server's `ORDER BY`), within `[start, end)`.
fn sorted_rows(
    t: &Topic,
    window: (Option<i64>, Option<i64>),
) -> Result<Option<RecordBatch>, Status> {
    let parts = sorted_parts(t, window)?;
    match (&t.schema, parts.len()) {
        (_, 0) => Ok(None),
        (_, 1) => Ok(parts.into_iter().next()),
        (Some(schema), _) => concat_batches(schema, &parts)
            .map(Some)
            .map_err(|e| Status::internal(format!("query error :: {e}"))),
        (None, _) => Ok(None),
    }
}

fn timestamps(b: &RecordBatch) -> Result<&arrow::array::Int64Array, Status> {
    b.column_by_name("timestamp_ns")
        .and_then(|c| c.as_any().downcast_ref::<arrow::array::Int64Array>())
        .ok_or_else(|| Status::internal("query error :: no timestamp_ns"))
}

/// The topic's rows in `timestamp_ns` order, within `window`: the stored batches themselves when
/// they were written in order (the usual case: no copy), else one sorted batch.
fn sorted_parts(t: &Topic, window: (Option<i64>, Option<i64>)) -> Result<Vec<RecordBatch>, Status> {
    let Some(schema) = &t.schema else {
        return Ok(vec![]);
    };
    if !t.has_data() {
        return Ok(vec![]);
    }
    let mut last = i64::MIN;
    let mut in_order = true;
    for b in &t.batches {
        let ts = timestamps(b)?;
        if ts.is_empty() {
            continue;
        }
        in_order &= ts.value(0) >= last && ts.values().windows(2).all(|w| w[0] <= w[1]);
        last = ts.value(ts.len() - 1);
    }
    let parts = if in_order {
        t.batches.clone()
    } else {
        let all = concat_batches(schema, &t.batches)
            .map_err(|e| Status::internal(format!("query error :: {e}")))?;
        let idx = sort_to_indices(timestamps(&all)?, None, None)
            .map_err(|e| Status::internal(format!("query error :: {e}")))?;
        vec![take_record_batch(&all, &idx)
            .map_err(|e| Status::internal(format!("query error :: {e}")))?]
    };
    if window == (None, None) {
        return Ok(parts);
    }
    parts
        .into_iter()
        .map(|b| in_window(b, window))
        .filter(|b| !b.as_ref().is_ok_and(|b| b.num_rows() == 0))
        .collect()
}

/// The rows with `start <= timestamp_ns < end` (docs/mosaico-protocol-current.md: start inclusive,
/// end exclusive). The server's own filter, not the client's: tests read windows through it.
fn in_window(
    b: RecordBatch,
    (start, end): (Option<i64>, Option<i64>),
) -> Result<RecordBatch, Status> {
    use arrow::array::{BooleanArray, Int64Array};
    use arrow::compute::kernels::cmp::{gt_eq, lt};
    let err = |e: arrow::error::ArrowError| Status::internal(format!("query error :: {e}"));
    let ts = timestamps(&b)?;
    let mut keep = BooleanArray::from(vec![true; ts.len()]);
    if let Some(s) = start {
        let m = gt_eq(ts, &Int64Array::new_scalar(s)).map_err(err)?;
        keep = arrow::compute::and(&keep, &m).map_err(err)?;
    }
    if let Some(e) = end {
        let m = lt(ts, &Int64Array::new_scalar(e)).map_err(err)?;
        keep = arrow::compute::and(&keep, &m).map_err(err)?;
    }
    arrow::compute::filter_record_batch(&b, &keep).map_err(err)
}

fn with_metadata(schema: &Schema, meta: HashMap<String, String>) -> SchemaRef {
    Arc::new(Schema::new_with_metadata(schema.fields().clone(), meta))
}

fn legacy_topic_meta(t: &Topic) -> HashMap<String, String> {
    HashMap::from([
        ("mosaico:context".to_string(), "topic".to_string()),
        (
            "mosaico:properties".to_string(),
            json!({"serialization_format": t.format.as_str(), "ontology_tag": t.tag}).to_string(),
        ),
        (
            "mosaico:user_metadata".to_string(),
            t.user_metadata.to_string(),
        ),
    ])
}

/// The topic JSON of current-generation endpoints (reference-current §5.1).
fn current_topic_json(t: &Topic, window: Option<(Option<i64>, Option<i64>)>) -> Value {
    let interval = t
        .interval()
        .map(|(a, b)| json!({"start_ns": a, "end_ns": b}));
    let mut v = json!({
        "resource_locator": t.locator,
        "created_at_ns": t.created_ns,
        "completed_at_ns": t.completed_ns,
        "locked": t.locked,
        "ontology_tag": t.tag,
        "serialization_format": t.format.as_str(),
        "user_metadata": t.user_metadata,
        "data_info": {
            "total_bytes": t.bytes(),
            "total_chunks_count": t.chunks,
            "total_row_count": t.rows(),
            "interval": interval,
        },
    });
    if let Some(w) = window {
        let rows = sorted_rows(t, w).ok().flatten();
        let n = rows.as_ref().map_or(0, |b| b.num_rows());
        let iv = rows.and_then(|b| {
            let ts = b
                .column_by_name("timestamp_ns")?
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()?
                .clone();
            (!ts.is_empty())
                .then(|| json!({"start_ns": ts.value(0), "end_ns": ts.value(ts.len() - 1)}))
        });
        v["time_window_info"] = json!({"row_count": n, "interval": iv});
    }
    v
}

fn current_ticket(locator: &str, window: (Option<i64>, Option<i64>)) -> Ticket {
    Ticket::new(json!({"locator": locator, "start_ns": window.0, "end_ns": window.1}).to_string())
}

fn path_name(d: &FlightDescriptor) -> Result<String, Status> {
    match d.path.as_slice() {
        [one] => Ok(sanitize(one)),
        [] => Err(Status::internal("repository error :: not found")),
        _ => Err(Status::invalid_argument(
            "multiple path in descriptor not supported",
        )),
    }
}

/// A time window `[start, end)` in ns; either bound may be open.
type Window = (Option<i64>, Option<i64>);

/// `{"resource_locator", "timestamp_ns_start"?, "timestamp_ns_end"?}`.
fn cmd_locator(d: &FlightDescriptor) -> Result<(String, Window, bool), Status> {
    if d.r#type() != DescriptorType::Cmd {
        return Err(Status::internal("unsupported descriptor type"));
    }
    let v: Value = serde_json::from_slice(&d.cmd)
        .map_err(|e| Status::internal(format!("bad command :: {e}")))?;
    let loc = v
        .get("resource_locator")
        .and_then(Value::as_str)
        .ok_or_else(|| Status::internal("bad command :: missing field `resource_locator`"))?;
    let s = v.get("timestamp_ns_start").and_then(Value::as_i64);
    let e = v.get("timestamp_ns_end").and_then(Value::as_i64);
    let windowed = v.get("timestamp_ns_start").is_some() || v.get("timestamp_ns_end").is_some();
    Ok((sanitize(loc), (s, e), windowed))
}

impl MosaicoFlight {
    fn check<T>(&self, req: &Request<T>) -> Result<(), Status> {
        if self.store.lock().expect("store").dead {
            return Err(status(Fault::Dead));
        }
        let (Generation::Current, Some(key)) = (self.config.generation, &self.config.api_key)
        else {
            return Ok(());
        };
        match req
            .metadata()
            .get(API_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
        {
            None => Err(Status::unauthenticated(
                "missing api key: send it in the `mosaico-api-key-token` header",
            )),
            Some(k) if k == key => Ok(()),
            Some(_) => Err(Status::unauthenticated("invalid api key")),
        }
    }

    fn legacy_flight_info(&self, d: &FlightDescriptor) -> Result<FlightInfo, Status> {
        if d.r#type() != DescriptorType::Path {
            return Err(Status::internal("unsupported descriptor type"));
        }
        let name = path_name(d)?;
        let store = self.store.lock().expect("store");
        if let Some(seq) = store.sequences.get(&name) {
            let meta = HashMap::from([
                ("mosaico:context".to_string(), "sequence".to_string()),
                (
                    "mosaico:user_metadata".to_string(),
                    seq.user_metadata.to_string(),
                ),
            ]);
            let schema = Schema::new_with_metadata(Vec::<Field>::new(), meta);
            let mut info = FlightInfo::new()
                .try_with_schema(&schema)
                .map_err(|e| Status::internal(e.to_string()))?;
            for t in store.topics_of(&name) {
                info = info.with_endpoint(
                    FlightEndpoint::new().with_ticket(Ticket::new(t.locator.clone())),
                );
            }
            return Ok(info
                .with_descriptor(d.clone())
                .with_total_records(-1)
                .with_total_bytes(-1));
        }
        let t = store
            .topics
            .get(&name)
            .ok_or_else(|| Status::internal("repository error :: not found"))?;
        let schema = match (&t.schema, t.has_data()) {
            (Some(s), true) => with_metadata(s, legacy_topic_meta(t)),
            _ => {
                return Err(Status::internal(format!(
                    "rw error :: no data file for topic `{name}`"
                )))
            }
        };
        Ok(FlightInfo::new()
            .try_with_schema(&schema)
            .map_err(|e| Status::internal(e.to_string()))?
            .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(t.locator.clone())))
            .with_descriptor(d.clone())
            .with_total_records(-1)
            .with_total_bytes(-1))
    }

    fn current_flight_info(&self, d: &FlightDescriptor) -> Result<FlightInfo, Status> {
        let (loc, window, windowed) = cmd_locator(d)?;
        let store = self.store.lock().expect("store");
        let win = windowed.then_some(window);
        let endpoint = |t: &Topic| {
            FlightEndpoint::new()
                .with_ticket(current_ticket(&t.locator, window))
                .with_app_metadata(current_topic_json(t, win).to_string())
        };
        if let Some(seq) = store.sequences.get(&loc) {
            let sessions: Vec<Value> = seq
                .sessions
                .iter()
                .map(|x| {
                    let topics: Vec<&str> =
                        store.topics.values().filter(|t| t.session.as_deref() == Some(&x.uuid)).map(|t| t.locator.as_str()).collect();
                    json!({"locator": x.locator, "created_at_ns": x.created_ns, "completed_at_ns": x.completed_ns, "locked": x.locked, "topics": topics})
                })
                .collect();
            let app = json!({"resource_locator": seq.name, "created_at_ns": seq.created_ns, "user_metadata": seq.user_metadata, "sessions": sessions});
            let mut info = FlightInfo::new()
                .with_descriptor(d.clone())
                .with_app_metadata(app.to_string());
            for t in store.topics_of(&loc) {
                info = info.with_endpoint(endpoint(t));
            }
            return Ok(info
                .with_total_records(-1)
                .with_total_bytes(store.sequence_bytes(&loc) as i64));
        }
        let t = store
            .topics
            .get(&loc)
            .ok_or_else(|| Status::internal(NOT_FOUND))?;
        let mut info = FlightInfo::new()
            .with_descriptor(d.clone())
            .with_endpoint(endpoint(t));
        if let Some(s) = &t.schema {
            info = info
                .try_with_schema(s)
                .map_err(|e| Status::internal(e.to_string()))?;
        }
        Ok(info
            .with_total_records(t.rows() as i64)
            .with_total_bytes(t.bytes() as i64))
    }

    /// Reads the first message, validates the descriptor, and finds the topic it writes.
    fn put_target(&self, d: Option<&FlightDescriptor>) -> Result<String, Status> {
        let d = d.ok_or_else(|| Status::invalid_argument("missing descriptor in request"))?;
        if d.r#type() != DescriptorType::Cmd {
            return Err(Status::internal("unsupported descriptor type"));
        }
        let v: Value = serde_json::from_slice(&d.cmd)
            .map_err(|e| Status::internal(format!("bad command :: {e}")))?;
        let (name, key) = match self.config.generation {
            Generation::Legacy => {
                let t = v
                    .get("topic")
                    .filter(|_| v.as_object().is_some_and(|o| o.len() == 1));
                let t = t.ok_or_else(|| {
                    Status::internal(format!("bad command :: unknown command {v}"))
                })?;
                (
                    t.get("name").and_then(Value::as_str),
                    t.get("key").and_then(Value::as_str),
                )
            }
            Generation::Current => (
                v.get("resource_locator").and_then(Value::as_str),
                v.get("topic_uuid").and_then(Value::as_str),
            ),
        };
        let (Some(name), Some(key)) = (name, key) else {
            return Err(Status::internal(format!(
                "bad command :: missing topic name or key in {v}"
            )));
        };
        let name = sanitize(name);
        let store = self.store.lock().expect("store");
        let t = store.topic(&name).map_err(status)?;
        check_key(key, &t.key).map_err(status)?;
        Ok(name)
    }
}

fn check_timestamp(schema: &Schema) -> Result<(), Status> {
    match schema.field_with_name("timestamp_ns") {
        Err(_) => Err(Status::internal(
            "sanitization error :: missing timestamp field in schema",
        )),
        Ok(f) if f.data_type() != &DataType::Int64 => Err(Status::internal(
            "sanitization error :: wrong timestamp field type, expected int64",
        )),
        Ok(_) => Ok(()),
    }
}

fn streaming_error(e: impl std::fmt::Display) -> Status {
    Status::internal(format!("error during data streaming :: {e}"))
}

#[tonic::async_trait]
impl FlightService for MosaicoFlight {
    type HandshakeStream = Stream<HandshakeResponse>;
    type ListFlightsStream = Stream<FlightInfo>;
    type DoGetStream = Stream<FlightData>;
    type DoPutStream = Stream<PutResult>;
    type DoExchangeStream = Stream<FlightData>;
    type DoActionStream = Stream<arrow_flight::Result>;
    type ListActionsStream = Stream<ActionType>;

    async fn handshake(
        &self,
        _: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        Err(Status::unimplemented("handshake"))
    }

    async fn poll_flight_info(
        &self,
        _: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        Err(Status::unimplemented("poll_flight_info"))
    }

    async fn do_exchange(
        &self,
        _: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        Err(Status::unimplemented("do_exchange"))
    }

    async fn list_actions(
        &self,
        _: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        Err(Status::unimplemented("list_actions"))
    }

    async fn do_action(
        &self,
        req: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        self.check(&req)?;
        let a = req.into_inner();
        let span = info_span!("do_action", action = %a.r#type);
        let _g = span.enter();
        let reply = {
            let mut store = self.store.lock().expect("store");
            actions::run(&mut store, &self.config, &a.r#type, &a.body).map_err(status)?
        };
        let body = match reply {
            Some(r) => json!({"action": a.r#type, "response": r}),
            None => json!({"action": "empty"}),
        };
        let result = arrow_flight::Result {
            body: body.to_string().into(),
        };
        Ok(Response::new(stream::iter([Ok(result)]).boxed()))
    }

    async fn list_flights(
        &self,
        req: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        self.check(&req)?;
        let c = req.into_inner();
        if !(c.expression.is_empty() || c.expression.as_ref() == b"/") {
            return Err(Status::internal("unsupported descriptor type"));
        }
        let store = self.store.lock().expect("store");
        let infos: Vec<Result<FlightInfo, Status>> = store
            .sequences
            .keys()
            .map(|n| {
                Ok(FlightInfo::new()
                    .with_descriptor(FlightDescriptor::new_path(vec![n.clone()]))
                    .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(n.clone())))
                    .with_total_records(-1)
                    .with_total_bytes(-1))
            })
            .collect();
        Ok(Response::new(stream::iter(infos).boxed()))
    }

    async fn get_flight_info(
        &self,
        req: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.check(&req)?;
        let d = req.into_inner();
        let _g = info_span!("get_flight_info").entered();
        match self.config.generation {
            Generation::Legacy => self.legacy_flight_info(&d),
            Generation::Current => self.current_flight_info(&d),
        }
        .map(Response::new)
    }

    async fn get_schema(
        &self,
        req: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        self.check(&req)?;
        if self.config.generation == Generation::Legacy {
            return Err(Status::unimplemented("get_schema"));
        }
        let (loc, _, _) = cmd_locator(req.get_ref())?;
        let store = self.store.lock().expect("store");
        let t = store.topic(&loc).map_err(status)?;
        let schema = t
            .schema
            .clone()
            .ok_or_else(|| Status::internal(format!("topic `{loc}` has no data")))?;
        let opts = arrow::ipc::writer::IpcWriteOptions::default();
        SchemaAsIpc::new(&schema, &opts)
            .try_into()
            .map(Response::new)
            .map_err(|e: arrow::error::ArrowError| Status::internal(e.to_string()))
    }

    async fn do_get(&self, req: Request<Ticket>) -> Result<Response<Self::DoGetStream>, Status> {
        self.check(&req)?;
        let raw = req.into_inner().ticket;
        let text = std::str::from_utf8(&raw)
            .map_err(|e| Status::invalid_argument(format!("bad ticket :: {e}")))?;
        let (locator, window) = match self.config.generation {
            Generation::Legacy => (sanitize(text), (None, None)),
            Generation::Current => {
                let v: Value = serde_json::from_str(text)
                    .map_err(|e| Status::invalid_argument(format!("bad ticket :: {e}")))?;
                let loc = v
                    .get("locator")
                    .and_then(Value::as_str)
                    .ok_or_else(|| Status::invalid_argument("bad ticket :: no locator"))?;
                (
                    sanitize(loc),
                    (
                        v.get("start_ns").and_then(Value::as_i64),
                        v.get("end_ns").and_then(Value::as_i64),
                    ),
                )
            }
        };
        let span = info_span!("do_get", topic = %locator).entered();
        let (parts, schema, meta, target_rows) = {
            let mut store = self.store.lock().expect("store");
            let t = store.topics.get(&locator).ok_or_else(|| {
                Status::internal(format!(
                    "query error :: object store path `{locator}` not found (no such topic)"
                ))
            })?;
            let schema = t.schema.clone().filter(|_| t.has_data()).ok_or_else(|| {
                Status::internal(format!("query error :: Schema error: No field named timestamp_ns (topic `{locator}` has no data)"))
            })?;
            let parts = sorted_parts(t, window)?;
            let meta = if self.config.generation == Generation::Legacy {
                legacy_topic_meta(t)
            } else {
                HashMap::new()
            };
            // mosaicod sizes batches to its target message size from the chunk statistics; when
            // the topic's rows average more than that, the batch size is 0 and DataFusion's
            // assertion aborts the whole process (measured on the real mosaicod).
            let target = (self.config.max_message_bytes / 2) as u64;
            let rows = (target * t.rows().max(1) / t.bytes().max(1)) as usize;
            if rows == 0 && self.config.generation == Generation::Legacy {
                store.dead = true;
                return Err(status(Fault::Dead));
            }
            (parts, schema, meta, rows.max(1))
        };
        let legacy = self.config.generation == Generation::Legacy;
        let view_schema = view_types(&RecordBatch::new_empty(schema))?.schema();
        let out_schema = with_metadata(&view_schema, meta);
        // Slices of at most `target_rows`, converted as the stream is read (not all up front), so
        // the first batch leaves at once and conversion overlaps the transfer.
        let slices = parts.into_iter().flat_map(move |b| {
            (0..b.num_rows())
                .step_by(target_rows)
                .map(move |off| b.slice(off, target_rows.min(b.num_rows() - off)))
                .collect::<Vec<_>>()
        });
        let out_schema_c = out_schema.clone();
        let convert = move |slice: RecordBatch| -> Result<RecordBatch, FlightError> {
            let tonic = |s: Status| FlightError::Tonic(Box::new(s));
            let mut v = view_types(&slice).map_err(tonic)?;
            if legacy {
                let cols = v.columns().iter().map(nulls_into_children).collect();
                v = RecordBatch::try_new(v.schema(), cols)?;
            }
            Ok(RecordBatch::try_new(
                out_schema_c.clone(),
                v.columns().to_vec(),
            )?)
        };
        let batches = stream::iter(slices).map(convert);
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(out_schema)
            .build(batches)
            .map_err(|e| Status::internal(format!("flight encoding error: {e}")));
        drop(span);
        Ok(Response::new(stream.boxed()))
    }

    async fn do_put(
        &self,
        req: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        self.check(&req)?;
        let reset = req.extensions().get::<super::reset::StreamReset>().cloned();
        let mut input = req.into_inner();
        let first = input
            .message()
            .await
            .map_err(streaming_error)?
            .ok_or_else(|| Status::internal("missing header message"))?;
        let locator = self.put_target(first.flight_descriptor.as_ref())?;
        let span = info_span!("do_put", topic = %locator);
        async move {
            let rest: BoxStream<'static, Result<FlightData, FlightError>> =
                input.map_err(|s| FlightError::Tonic(Box::new(s))).boxed();
            let all = stream::once(async move { Ok(first) }).chain(rest);
            let mut decoder = FlightDataDecoder::new(all);
            let mut schema: Option<SchemaRef> = None;
            let mut batches = Vec::new();
            while let Some(msg) = decoder.next().await {
                let msg = msg.map_err(streaming_error)?;
                match msg.payload {
                    DecodedPayload::Schema(s) => {
                        if schema.is_some() {
                            return Err(Status::internal("received duplicate schema in payload"));
                        }
                        check_timestamp(&s)?;
                        schema = Some(s);
                    }
                    DecodedPayload::RecordBatch(b) => {
                        if schema.is_none() {
                            return Err(Status::internal("missing schema"));
                        }
                        batches.push(b);
                    }
                    DecodedPayload::None => return Err(Status::internal("no data received")),
                }
            }
            let schema = schema.ok_or_else(|| Status::internal("missing schema"))?;
            if reset
                .as_ref()
                .is_some_and(super::reset::StreamReset::happened)
            {
                // A reset is no discard on mosaicod: the data lands, unlocked (see write_reset).
                self.store
                    .lock()
                    .expect("store")
                    .write_reset(&locator, schema, batches)
                    .map_err(status)?;
                return Err(streaming_error("the client reset the stream"));
            }
            self.store
                .lock()
                .expect("store")
                .commit(&locator, schema, batches)
                .map_err(status)?;
            tracing::debug!("stream committed");
            Ok(Response::new(stream::empty().boxed()))
        }
        .instrument(span)
        .await
    }
}
