// SPDX-License-Identifier: GPL-2.0

//! The output formats' tests.

use super::*;
use crate::decode::EventType;

fn ev(cpu: u32, timestamp: u64, entry_type: u16, size: u16, context: u32) -> Event {
    Event {
        cpu,
        offset: 72,
        timestamp,
        entry_type: EventType(entry_type),
        size,
        context,
    }
}

fn meta_of(info: Info) -> Meta {
    Meta {
        info,
        ..Meta::default()
    }
}

fn sample_info() -> Info {
    Info {
        abi_version: 1,
        info_size: 56,
        log_type: 1,
        mode: 0,
        time_basis: 0,
        buffer_count: 3,
        buffer_size: 65536,
        threshold: 1,
        sources: 0x8400 | (1 << 40),
        header_size: 72,
        record_size: 32,
        backend: 1,
        completion: 1,
        max_buffers: 8,
        generation: 5,
    }
}

fn sample_table() -> Vec<BufferInfo> {
    let mut t = vec![BufferInfo::default(); 3];
    for (i, b) in t.iter_mut().enumerate() {
        b.index = i as u32;
        b.mmap_offset = i as u64 * 65536;
    }
    t[0].cpus[0] = 0b10011; // 0-1,4
    t[1].pxm = 1;
    t[1].node = 1;
    t[1].cpus[0] = 1 << 63;
    t[1].cpus[1] = 0b111; // 63-66
    t[2].flags = crate::uapi::BUFFER_RETIRED;
    t
}

#[test]
fn text_and_json_events_byte_exact() {
    let events = [
        ev(0, 1000, 7, 16, 0x2a),
        ev(3, u64::MAX, 65535, 24, u32::MAX),
    ];
    let rec = Record::default();
    let mut text = Sink::new(Vec::new(), Format::Text);
    text.begin(&meta_of(sample_info())).unwrap();
    text.buffer(&rec, b"ignored", &events).unwrap();
    assert_eq!(
        String::from_utf8(text.finish().unwrap()).unwrap(),
        "cpu=0 ts=1000 type=0x0007 size=16 context=0x0000002a\n\
         cpu=3 ts=18446744073709551615 type=0xffff size=24 context=0xffffffff\n"
    );
    let mut json = Sink::new(Vec::new(), Format::Json);
    json.begin(&meta_of(sample_info())).unwrap();
    json.buffer(&rec, b"ignored", &events).unwrap();
    assert_eq!(
        String::from_utf8(json.finish().unwrap()).unwrap(),
        "{\"cpu\":0,\"ts\":1000,\"type\":7,\"size\":16,\"context\":42}\n\
         {\"cpu\":3,\"ts\":18446744073709551615,\"type\":65535,\"size\":24,\"context\":4294967295}\n"
    );
}

#[test]
fn binary_byte_exact() {
    let mut sink = Sink::new(Vec::new(), Format::Binary);
    let mut info = sample_info();
    info.time_basis = 1;
    sink.begin(&Meta {
        processors: 4,
        start_filetime: 7,
        timer_hz: 2_000_000_000,
        hv_build: 9,
        ..meta_of(info)
    })
    .unwrap();
    let rec = Record {
        buffer_index: 2,
        cpu: 5,
        sequence: 0x0102_0304_0506_0708,
        bytes_used: 99, // the file records the bytes written instead
        events_lost: 9,
        timestamp: 0xAABB,
        ..Record::default()
    };
    sink.buffer(&rec, &[0xEE; 3], &[ev(0, 0, 0, 0, 0)]).unwrap();
    let out = sink.finish().unwrap();
    let mut want = Vec::new();
    want.extend_from_slice(b"HVEVLOG2");
    for w in [1u32, 1, 1, 0, 65536, 72, 64, 4] {
        want.extend_from_slice(&w.to_le_bytes());
    }
    want.extend_from_slice(&7u64.to_le_bytes());
    want.extend_from_slice(&2_000_000_000u64.to_le_bytes());
    want.extend_from_slice(&[9, 0, 0, 0, 0, 0, 0, 0]);
    want.extend_from_slice(&[2, 0, 0, 0, 5, 0, 0, 0]);
    want.extend_from_slice(&[8, 7, 6, 5, 4, 3, 2, 1]);
    want.extend_from_slice(&[3, 0, 0, 0, 9, 0, 0, 0]);
    want.extend_from_slice(&[0xBB, 0xAA, 0, 0, 0, 0, 0, 0]);
    want.extend_from_slice(&[0xEE; 3]);
    assert_eq!(out, want);
    assert_eq!(out.len(), capfile::HEADER_SIZE + RECORD_HEADER_SIZE + 3);
}

#[test]
fn json_escaping() {
    // serde_json escapes what JSON requires (DEL and U+2028 need none);
    // the line parses back to the same name.
    let name = "a\"b\\c/d\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f} é€😀\u{2028}";
    let json = info_json(name, &sample_info(), &[]);
    assert!(
        json.starts_with(
            "{\"device\":\"a\\\"b\\\\c/d\\n\\r\\t\\b\\f\\u0001\\u001f\u{7f} é€😀\u{2028}\","
        ),
        "{json}"
    );
    let back: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(back["device"], name);
    assert_eq!(back["buffers"], serde_json::json!([]));
}

#[test]
fn cpu_lists() {
    let mut cpus = [0u64; CPU_WORDS];
    assert_eq!(cpu_list(&cpus), "");
    cpus[0] = 0b10011;
    assert_eq!(cpu_list(&cpus), "0-1,4");
    cpus[0] = 1;
    assert_eq!(cpu_list(&cpus), "0");
    cpus[0] = 0b1010;
    assert_eq!(cpu_list(&cpus), "1,3");
    cpus[0] = 1 << 63;
    cpus[1] = 0b111;
    assert_eq!(cpu_list(&cpus), "63-66");
    let all = [u64::MAX; CPU_WORDS];
    assert_eq!(cpu_list(&all), "0-1023");
    let mut last = [0u64; CPU_WORDS];
    last[15] = 3 << 62;
    last[0] = 0b110;
    assert_eq!(cpu_list(&last), "1-2,1022-1023");
}

#[test]
fn source_naming() {
    assert_eq!(sources_text(0), "0x0 (none)");
    assert_eq!(sources_text(0x3FFF_FF00).matches(',').count(), 21);
    assert_eq!(sources_text(0x3000_0000), "0x30000000 (usch,generic)");
    assert_eq!(
        sources_text(0x40_0400 | (1 << 63) | (1 << 40)),
        "0x8000010000400400 (hc,sch,0x8000010000000000)"
    );
}

#[test]
fn info_table() {
    let text = info_text("/dev/hv_evlog", &sample_info(), &sample_table());
    assert_eq!(
        text,
        "device       /dev/hv_evlog\n\
         abi version  1\n\
         backend      sim (1)\n\
         type         local (1)\n\
         mode         regular (0)\n\
         time basis   reference (0), 100 ns units\n\
         buffers      3 x 65536 bytes\n\
         max buffers  8 (table generation 5)\n\
         threshold    1\n\
         completion   messages (1)\n\
         sources      0x10000008400 (hc,vp,0x10000000000)\n\
         header size  72\n\
         record size  32\n\
         \n\
         index  pxm  node  cpus         mmap offset\n\
         \x20   0    0     0  0-1,4        0x0\n\
         \x20   1    1     1  63-66        0x10000\n\
         \x20   2    0     0  - (retired)  0x20000\n"
    );
}

#[test]
fn info_as_json() {
    let json = info_json("/dev/\"x\"", &sample_info(), &sample_table()[..2]);
    assert_eq!(
        json,
        "{\"device\":\"/dev/\\\"x\\\"\",\"abi_version\":1,\"info_size\":56,\
         \"backend\":\"sim\",\"backend_id\":1,\"type\":\"local\",\"type_id\":1,\
         \"mode\":\"regular\",\"mode_id\":0,\"time_basis\":\"reference\",\
         \"time_basis_id\":0,\"buffer_count\":3,\"max_buffers\":8,\"generation\":5,\
         \"buffer_size\":65536,\
         \"threshold\":1,\"sources\":1099511661568,\
         \"source_names\":[\"hc\",\"vp\",\"0x10000000000\"],\
         \"header_size\":72,\"record_size\":32,\"completion\":\"messages\",\"completion_id\":1,\"buffers\":[\
         {\"index\":0,\"pxm\":0,\"node\":0,\"cpus\":[0,1,4],\"cpu_list\":\"0-1,4\",\"mmap_offset\":0,\"retired\":false},\
         {\"index\":1,\"pxm\":1,\"node\":1,\"cpus\":[63,64,65,66],\"cpu_list\":\"63-66\",\"mmap_offset\":65536,\"retired\":false}]}\n"
    );
}

#[test]
fn stats_formats() {
    let st = Stats {
        completions: 10,
        releases: 9,
        events_lost: 0,
        records_dropped: 1,
        flushes: 2,
    };
    let open = Stats::default();
    assert_eq!(
        stats_text(&open, &st),
        "                      this open module lifetime\n\
         completions                   0              10\n\
         releases                      0               9\n\
         events_lost                   0               0\n\
         records_dropped               0               1\n\
         flushes                       0               2\n"
    );
    assert_eq!(
        stats_json(&open, &st),
        "{\"open\":{\"completions\":0,\"releases\":0,\"events_lost\":0,\
         \"records_dropped\":0,\"flushes\":0},\"module\":{\"completions\":10,\
         \"releases\":9,\"events_lost\":0,\"records_dropped\":1,\"flushes\":2}}\n"
    );
}
