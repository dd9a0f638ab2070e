//! The codec of polars frames (feature `polars`): a `DataFrame` (or a `Series`, as a
//! one-column frame) is written as an Arrow IPC file by polars' own `IpcWriter`, and read
//! back by its `IpcReader`. Arrow IPC keeps every dtype, null, string, categorical, date
//! and datetime, and the column order. Compression, when configured, is the entry's
//! (LZ4 or zstd over the whole IPC file).
//!
//! The payload is verified against its checksum before polars reads any of it, and the
//! read is guarded: a panic inside polars on bytes it cannot read becomes an error (a
//! miss), never a crash of the caller.

use std::io::{Cursor, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

use polars::prelude::{DataFrame, IntoColumn, IpcReader, IpcWriter, SerReader, SerWriter, Series};

use super::{Codec, CodecError};

/// The codec of polars `DataFrame` and `Series`: Arrow IPC.
#[derive(Clone, Copy, Debug, Default)]
pub struct ArrowIpc;

fn write_frame<W: Write>(frame: &DataFrame, out: &mut W) -> Result<(), CodecError> {
    // The writer needs a mutable frame (to align its chunks); a clone shares the columns.
    let mut frame = frame.clone();
    IpcWriter::new(out)
        .finish(&mut frame)
        .map_err(|e| CodecError::with_source("Arrow IPC encoding failed", e))
}

fn read_frame(bytes: &[u8]) -> Result<DataFrame, CodecError> {
    let read = catch_unwind(AssertUnwindSafe(|| {
        IpcReader::new(Cursor::new(bytes)).finish()
    }));
    match read {
        Ok(Ok(frame)) => Ok(frame),
        Ok(Err(e)) => Err(CodecError::with_source("Arrow IPC does not decode", e)),
        Err(_) => Err(CodecError::new("Arrow IPC reader failed on this payload")),
    }
}

impl Codec<DataFrame> for ArrowIpc {
    const ID: u16 = super::ids::ARROW_IPC;
    const NAME: &'static str = "arrow-ipc";

    fn encode<W: Write>(value: &DataFrame, out: &mut W) -> Result<(), CodecError> {
        write_frame(value, out)
    }

    fn decode(bytes: &[u8]) -> Result<DataFrame, CodecError> {
        read_frame(bytes)
    }
}

impl Codec<Series> for ArrowIpc {
    const ID: u16 = super::ids::ARROW_IPC;
    const NAME: &'static str = "arrow-ipc";

    fn encode<W: Write>(value: &Series, out: &mut W) -> Result<(), CodecError> {
        let frame = DataFrame::new(value.len(), vec![value.clone().into_column()])
            .map_err(|e| CodecError::with_source("Arrow IPC encoding failed", e))?;
        write_frame(&frame, out)
    }

    fn decode(bytes: &[u8]) -> Result<Series, CodecError> {
        let frame = read_frame(bytes)?;
        match frame.columns() {
            [column] => Ok(column.as_materialized_series().clone()),
            columns => Err(CodecError::new(format!(
                "a Series entry holds {} columns, not 1",
                columns.len()
            ))),
        }
    }
}
