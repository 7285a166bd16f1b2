// SPDX-License-Identifier: GPL-2.0

//! Round trips and refusals of the ETL writer and reader.

use super::*;
use crate::capture::tests::{four_buffers, Fake};
use crate::capture::{run, End, Limits, Source};
use crate::output::{Format, Sink};

pub(crate) fn meta() -> Meta {
    Meta {
        info: Info {
            abi_version: 2,
            time_basis: 0,
            log_type: 1,
            mode: 0,
            buffer_size: 4096,
            header_size: 72,
            ..Info::default()
        },
        processors: 4,
        start_filetime: 133_000_000_000_000_000,
        timer_hz: 10_000_000,
        hv_build: 0,
    }
}

/// The capture of `buffers` (at most `count` events) in `format`, with
/// an ETL file's first buffer put in place.
pub(crate) fn write(format: Format, buffers: Vec<Vec<u8>>, count: Option<u64>) -> Vec<u8> {
    let mut fake = Fake::new(buffers);
    let mut sink = Sink::new(Vec::new(), format).named("t.etl");
    sink.begin(&meta()).unwrap();
    let limits = Limits {
        count,
        ..Limits::default()
    };
    run(&mut fake, limits, &mut sink, &|| false, &mut |_| {}).unwrap();
    let first = sink.first_buffer();
    let mut out = sink.finish().unwrap();
    if let Some(first) = first {
        out[..first.len()].copy_from_slice(&first);
    }
    out
}

/// The events of a file as text, through a source.
pub(crate) fn text_of<S: Source>(source: &mut S) -> Result<String> {
    let mut sink = Sink::new(Vec::new(), Format::Text);
    let (_, end) = run(source, Limits::default(), &mut sink, &|| false, &mut |_| {})?;
    assert_eq!(end, End::Closed);
    Ok(String::from_utf8(sink.finish().unwrap()).unwrap())
}

#[test]
fn round_trip_keeps_every_event() {
    let file = write(Format::Etl, four_buffers(), None);
    // The first buffer and four more, 8 KiB each.
    assert_eq!(file.len(), 5 * 8192);
    let (mut source, back) = EtlSource::open(&file[..]).unwrap();
    assert_eq!(back.info.buffer_size, 4096);
    assert_eq!(back.info.time_basis, 0);
    assert_eq!(back.info.log_type, 1);
    assert_eq!(back.processors, 4);
    assert_eq!(back.start_filetime, meta().start_filetime);
    assert_eq!(back.timer_hz, 10_000_000);
    let want = write(Format::Text, four_buffers(), None);
    assert_eq!(text_of(&mut source).unwrap().as_bytes(), &want[..]);
    // Cut by --count: only the events kept.
    let file = write(Format::Etl, four_buffers(), Some(7));
    let want = write(Format::Text, four_buffers(), Some(7));
    let (mut source, _) = EtlSource::open(&file[..]).unwrap();
    assert_eq!(text_of(&mut source).unwrap().as_bytes(), &want[..]);
}

#[test]
fn layout_byte_exact() {
    let file = write(Format::Etl, four_buffers(), None);
    let h = BUFFER_HEADER_SIZE + SYSTEM_HEADER_SIZE;
    // First buffer: header type, logfile event marker, hook 0.
    assert_eq!(get32(&file, 0), 8192);
    assert_eq!(get16(&file, 0x36), 4);
    assert_eq!(get32(&file, 72), 0xC002_0002);
    assert_eq!(get16(&file, 72 + 6), 0);
    // Its time stamp is the earliest event's (buffer 0, event 0: 0).
    assert_eq!(get64(&file, 72 + 0x10), 0);
    // Logfile header: buffer size, processors, buffers, pointer size,
    // events lost (buffer 2 lost 5), rate, clock type.
    assert_eq!(get32(&file, h), 8192);
    assert_eq!(get32(&file, h + 0x0C), 4);
    assert_eq!(get32(&file, h + 0x24), 5);
    assert_eq!(get32(&file, h + 0x2C), 8);
    assert_eq!(get32(&file, h + 0x30), 5);
    assert_eq!(get64(&file, h + 0x100), 10_000_000);
    assert_eq!(get64(&file, h + 0x108), meta().start_filetime);
    assert_eq!(get32(&file, h + 0x110), 1);
    // EndTime: the span (302 ticks of 100 ns) after the start.
    assert_eq!(get64(&file, h + 0x10), meta().start_filetime + 302);
    let name: Vec<u16> = "hv_evlog\0t.etl\0".encode_utf16().collect();
    for (i, c) in name.iter().enumerate() {
        assert_eq!(get16(&file, h + 0x118 + 2 * i), *c);
    }
    // Buffer 3 of the file (captured buffer 2, CPU 0, lost 5): header
    // fixed up, three records of 24, 32 and 40 bytes.
    let b = &file[3 * 8192..4 * 8192];
    assert_eq!(get32(b, 0x00), 8192);
    assert_eq!(get32(b, 0x30), 72 + 24 + 32 + 40);
    assert_eq!(get32(b, 0x04), 72 + 24 + 32 + 40);
    assert_eq!(get64(b, 0x10), 200);
    assert_eq!(get64(b, 0x18), 2);
    assert_eq!(get64(b, 0x20), 1 | 10_000_000 << 3);
    assert_eq!(get16(b, 0x28), 0);
    assert_eq!(get16(b, 0x34) & FLAG_EVENTS_LOST, FLAG_EVENTS_LOST);
    assert_eq!(get32(b, 0x38), 2);
    assert_eq!(get32(b, 0x3C), 5);
    // Second record: marker, size 16 + 8 + 8, hook = type 2, time
    // stamp 201, context 21, payload as the hypervisor wrote it.
    let r = 72 + 24;
    assert_eq!(get32(b, r), 0xC011_0000);
    assert_eq!(get16(b, r + 4), 32);
    assert_eq!(get16(b, r + 6), 2);
    assert_eq!(get64(b, r + 8), 201);
    assert_eq!(get32(b, r + 16), 21);
    assert_eq!(get32(b, r + 20), 0);
    let payload: Vec<u8> = (0..8u8).map(|i| i ^ 0xA5).collect();
    assert_eq!(&b[r + 24..r + 32], &payload[..]);
}

fn err_of(file: &[u8]) -> String {
    match EtlSource::open(file) {
        Err(e) => e.to_string(),
        Ok((mut s, _)) => text_of(&mut s).unwrap_err().to_string(),
    }
}

#[test]
fn corrupted_files_name_buffer_and_offset() {
    let file = write(Format::Etl, four_buffers(), None);
    // Truncated inside buffer 4.
    assert_eq!(
        err_of(&file[..4 * 8192 + 100]),
        "ETL buffer 4 (at byte offset 32768): truncated: 100 of its 8192 bytes present \
         (the logfile header counts 5 buffers)"
    );
    // Buffer 2's Offset past its end.
    let mut bad = file.clone();
    put32(&mut bad, 2 * 8192 + 0x30, 9000);
    assert_eq!(
        err_of(&bad),
        "ETL buffer 2 (at byte offset 16384): Offset 9000 (at byte 16432) is outside \
         the buffer: records end between 72 and 8192"
    );
    // Buffer 1's Offset cutting a record short.
    let mut bad = file.clone();
    put32(&mut bad, 8192 + 0x30, 72 + 24 + 10);
    assert_eq!(
        err_of(&bad),
        "ETL buffer 1 (at byte offset 8192): the record at byte 8288 is cut short: \
         10 bytes before the buffer's Offset 106"
    );
    // A record whose size runs past the Offset.
    let mut bad = file.clone();
    put16(&mut bad, 8192 + 72 + 4, 500);
    assert_eq!(
        err_of(&bad),
        "ETL buffer 1 (at byte offset 8192): the record at byte 8264 has size 500: it \
         must be at least 24 and end by the buffer's Offset 168"
    );
    // A marker that is not ours.
    let mut bad = file.clone();
    put32(&mut bad, 8192 + 72, 0x1234);
    assert_eq!(
        err_of(&bad),
        "ETL buffer 1 (at byte offset 8192): the record at byte 8264 has marker \
         0x00001234, not the PERFINFO64 marker 0xc0110000 this tool writes"
    );
    // The first buffer.
    assert_eq!(
        err_of(&file[..50]),
        "ETL buffer 0 (at byte offset 0): the file ends at byte 50, inside the buffer \
         header"
    );
    let mut bad = file.clone();
    put32(&mut bad, 0, 12345);
    assert!(err_of(&bad).starts_with("ETL buffer 0 (at byte offset 0): BufferSize 12345"));
    // One buffer more than counted.
    let mut more = file.clone();
    more.extend_from_slice(&file[8192..2 * 8192]);
    assert_eq!(
        err_of(&more),
        "ETL buffer 5 (at byte offset 40960): the file goes on after the 5 buffers its \
         logfile header counts"
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    /// Every outcome of reading `file`: the events, or an error naming
    /// an ETL buffer.
    fn read(file: &[u8]) {
        match EtlSource::open(file) {
            Err(e) => assert!(e.to_string().starts_with("ETL buffer 0 "), "{e}"),
            Ok((mut s, _)) => {
                if let Err(e) = text_of(&mut s) {
                    assert!(e.to_string().starts_with("ETL buffer "), "{e}");
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// A valid file with bytes overwritten and cut anywhere.
        #[test]
        fn corrupted(
            writes in proptest::collection::vec((0usize..5 * 8192, any::<u8>()), 1..12),
            cut in 0usize..=5 * 8192,
        ) {
            let mut file = write(Format::Etl, four_buffers(), None);
            for (at, byte) in writes {
                file[at] = byte;
            }
            file.truncate(cut);
            read(&file);
        }

        /// Header fields that size things set to anything.
        #[test]
        fn sizes(buffer in 0usize..5, field in prop::sample::select(vec![0usize, 0x30, 72 + 4, 104, 104 + 0x24]), value in any::<u32>()) {
            let mut file = write(Format::Etl, four_buffers(), None);
            put32(&mut file, buffer * 8192 + field, value);
            read(&file);
        }

        /// Anything at all.
        #[test]
        fn arbitrary(bytes in proptest::collection::vec(any::<u8>(), 0..20000)) {
            read(&bytes);
        }
    }
}
