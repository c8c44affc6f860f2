//! NMEASentence (`nmea_msgs/Sentence`).

use std::sync::Arc;

use arrow::array::StringBuilder;

use super::{cdr, conv, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{Columns, HeaderB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::msgs::nmea_msgs;

struct NmeaF {
    header: HeaderB,
    sentence: StringBuilder,
}

impl Family for NmeaF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        cols.put("sentence", Arc::new(self.sentence.finish()));
    }
}

pub(crate) fn decoder(gen: Generation) -> Box<dyn Convert> {
    conv::<nmea_msgs::Sentence, _>(
        gen,
        NmeaF {
            header: HeaderB::new(gen),
            sentence: StringBuilder::new(),
        },
        |m, f| {
            f.header.push(Some(&m.header));
            f.sentence.append_value(&m.sentence);
            Ok(())
        },
        |m| Some(&m.header),
    )
}

pub(crate) fn encode(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(nmea_msgs::Sentence {
        header: r.header("header"),
        sentence: r.string("sentence"),
    })
}
