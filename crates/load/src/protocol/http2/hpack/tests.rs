//! The decoder against RFC 7541's examples and against an independent decoder
//! (`loona-hpack`) on generated blocks: same fields, same table, never a panic.

use proptest::prelude::*;

use super::*;

type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn ours(decoder: &mut Decoder, block: &[u8]) -> Result<Fields, HpackError> {
    let mut fields = Vec::new();
    decoder.decode(block, |n, v| fields.push((n.to_vec(), v.to_vec())))?;
    Ok(fields)
}

fn theirs(decoder: &mut loona_hpack::Decoder<'static>, block: &[u8]) -> Option<Fields> {
    decoder.decode(block).ok()
}

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

#[test]
fn the_static_table_is_the_rfcs() {
    let mut reference = loona_hpack::Decoder::new();
    for index in 1..=61u8 {
        let block = [0x80 | index];
        let mut mine = Decoder::new(4096);
        assert_eq!(
            ours(&mut mine, &block).unwrap(),
            theirs(&mut reference, &block).unwrap(),
            "index {index}"
        );
    }
}

#[test]
fn rfc_7541_c4_requests_with_huffman_share_a_dynamic_table() {
    let mut decoder = Decoder::new(4096);
    let first = ours(
        &mut decoder,
        &hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"),
    )
    .unwrap();
    assert_eq!(
        first[3],
        (b":authority".to_vec(), b"www.example.com".to_vec())
    );
    let second = ours(&mut decoder, &hex("8286 84be 5886 a8eb 1064 9cbf")).unwrap();
    assert_eq!(
        second[3],
        (b":authority".to_vec(), b"www.example.com".to_vec())
    );
    assert_eq!(second[4], (b"cache-control".to_vec(), b"no-cache".to_vec()));
    assert_eq!(decoder.size, 53 + 57);
}

#[test]
fn bad_blocks_are_errors() {
    let mut decoder = Decoder::new(4096);
    assert_eq!(ours(&mut decoder, &[0x80 | 62]), Err(HpackError::Index(62)));
    assert_eq!(ours(&mut decoder, &[0x80]), Err(HpackError::Index(0)));
    assert_eq!(
        ours(&mut decoder, &[0x41, 0x05, b'a']),
        Err(HpackError::Truncated)
    );
    assert_eq!(
        ours(&mut decoder, &[0x3f, 0xff, 0x7f]),
        Err(HpackError::TableSize)
    );
    assert_eq!(
        ours(&mut decoder, &[0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        Err(HpackError::Integer)
    );
}

/// One field representation of a generated block.
#[derive(Debug, Clone)]
enum Op {
    Indexed(u8),
    Incremental(Option<u8>, Vec<u8>, Vec<u8>, bool),
    Plain(Option<u8>, Vec<u8>, bool),
    SizeUpdate(u16),
}

fn integer_bytes(out: &mut Vec<u8>, flags: u8, prefix: u32, value: usize) {
    super::super::encode::integer(out, flags, prefix, value);
}

fn string_bytes(out: &mut Vec<u8>, s: &[u8], huffman: bool) {
    if huffman {
        let mut coded = Vec::new();
        httlib_huffman::encode(s, &mut coded).unwrap();
        integer_bytes(out, 0x80, 7, coded.len());
        out.extend_from_slice(&coded);
    } else {
        integer_bytes(out, 0, 7, s.len());
        out.extend_from_slice(s);
    }
}

fn block_of(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Indexed(i) => integer_bytes(&mut out, 0x80, 7, usize::from(*i)),
            Op::Incremental(name, new_name, value, huffman) => {
                match name {
                    Some(i) => integer_bytes(&mut out, 0x40, 6, usize::from(*i)),
                    None => {
                        out.push(0x40);
                        string_bytes(&mut out, new_name, *huffman);
                    }
                }
                string_bytes(&mut out, value, *huffman);
            }
            Op::Plain(name, value, huffman) => {
                integer_bytes(&mut out, 0, 4, usize::from(name.unwrap_or(1)));
                string_bytes(&mut out, value, *huffman);
            }
            Op::SizeUpdate(size) => integer_bytes(&mut out, 0x20, 5, usize::from(*size)),
        }
    }
    out
}

fn op() -> impl Strategy<Value = Op> {
    let text = proptest::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        4 => field(text),
        1 => (0u16..300).prop_map(Op::SizeUpdate),
    ]
}

/// A block: size updates only at its start, as the RFC allows.
fn block() -> impl Strategy<Value = Vec<Op>> {
    (
        proptest::collection::vec((0u16..300).prop_map(Op::SizeUpdate), 0..2),
        // At least one field: the reference refuses a block that ends in a size update.
        proptest::collection::vec(field(proptest::collection::vec(any::<u8>(), 0..40)), 1..12),
    )
        .prop_map(|(mut updates, fields)| {
            updates.extend(fields);
            updates
        })
}

fn field(text: impl Strategy<Value = Vec<u8>> + Clone) -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u8..70).prop_map(Op::Indexed),
        (
            proptest::option::of(1u8..66),
            text.clone(),
            text.clone(),
            any::<bool>()
        )
            .prop_map(|(n, nn, v, h)| Op::Incremental(n, nn, v, h)),
        (proptest::option::of(1u8..61), text, any::<bool>())
            .prop_map(|(n, v, h)| Op::Plain(n, v, h)),
    ]
}

proptest! {
    #[test]
    fn agrees_with_an_independent_decoder(blocks in proptest::collection::vec(block(), 1..8)) {
        let mut mine = Decoder::new(4096);
        let mut reference = loona_hpack::Decoder::new();
        reference.set_max_allowed_table_size(4096);
        for ops in &blocks {
            let block = block_of(ops);
            let a = ours(&mut mine, &block);
            let b = theirs(&mut reference, &block);
            match (a, b) {
                (Ok(a), Some(b)) => prop_assert_eq!(a, b),
                // Both lost the compression state: the connection would end here.
                (Err(_), None) => return Ok(()),
                (a, b) => prop_assert!(false, "ours {:?}, theirs {:?}", a, b),
            }
        }
    }

    #[test]
    fn a_size_update_after_a_field_is_refused(ops in proptest::collection::vec(op(), 1..12)) {
        let late = ops.iter().skip_while(|o| matches!(o, Op::SizeUpdate(_))).any(|o| matches!(o, Op::SizeUpdate(_)));
        let result = ours(&mut Decoder::new(4096), &block_of(&ops));
        if late {
            prop_assert!(result.is_err());
        }
    }

    #[test]
    fn never_panics_on_any_bytes(blocks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..6)) {
        let mut mine = Decoder::new(4096);
        for block in &blocks {
            let _ = ours(&mut mine, block);
        }
    }
}
