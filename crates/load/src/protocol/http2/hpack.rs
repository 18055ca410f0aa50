//! HPACK (RFC 7541) decoding of the server's header blocks: the static table, the
//! dynamic table with its size accounting, prefixed integers and string literals
//! (Huffman strings decoded five bits at a time by `httlib-huffman`).
//!
//! Every block is decoded whole, even when the client only wants `:status` and
//! `x-degraded`: the dynamic table is shared by all the connection's answers and must
//! stay in step with the server's. Fields are handed to a callback as slices of the
//! block, of the tables or of two scratch buffers, so nothing is allocated except
//! entries the server adds to the table.

use std::collections::VecDeque;
use std::ops::Range;

use thiserror::Error;

/// The static table (RFC 7541 Appendix A), index 1 first.
const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// What each entry costs in the table besides its bytes (RFC 7541 section 4.1).
const ENTRY_OVERHEAD: usize = 32;
/// Integers above this are refused (no header block needs them; no overflow).
const MAX_INTEGER: usize = 1 << 24;

/// Why a header block cannot be decoded: the connection's compression state is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HpackError {
    #[error("the header block ends inside a field")]
    Truncated,
    #[error("an integer is too large")]
    Integer,
    #[error("index {0} is in neither table")]
    Index(usize),
    #[error("a table size update above the announced limit, or after a field")]
    TableSize,
    #[error("a Huffman string does not decode")]
    Huffman,
}

/// A dynamic table entry: name and value.
type Entry = (Box<[u8]>, Box<[u8]>);

/// Where a decoded string is.
#[derive(Debug, Clone, Copy)]
enum Text {
    Static(&'static str),
    Entry(usize),
    Block(usize, usize),
    Scratch(bool),
}

/// One connection's decoder.
#[derive(Debug)]
pub struct Decoder {
    /// Newest first, as the dynamic indices count.
    table: VecDeque<Entry>,
    size: usize,
    max_size: usize,
    /// The size the client announced (SETTINGS_HEADER_TABLE_SIZE): updates may not
    /// exceed it.
    limit: usize,
    names: Vec<u8>,
    values: Vec<u8>,
}

impl Decoder {
    pub fn new(limit: usize) -> Decoder {
        Decoder {
            table: VecDeque::new(),
            size: 0,
            max_size: limit,
            limit,
            names: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Decodes `block`, calling `field(name, value)` for each field in order.
    pub fn decode(
        &mut self,
        block: &[u8],
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), HpackError> {
        let mut at = 0;
        let mut fields_seen = false;
        while at < block.len() {
            let first = block[at];
            // Size updates may only open a block (RFC 7541 section 4.2).
            fields_seen |= first & 0xE0 != 0x20;
            if first & 0x80 != 0 {
                let index = integer(block, &mut at, 7)?;
                let (name, value) = self.entry(index)?;
                field(name, value);
            } else if first & 0xC0 == 0x40 {
                let (name, value) = self.literal(block, &mut at, 6)?;
                field(self.text(block, name), self.text(block, value));
                self.insert(block, name, value);
            } else if first & 0xE0 == 0x20 {
                let size = integer(block, &mut at, 5)?;
                if size > self.limit || fields_seen {
                    return Err(HpackError::TableSize);
                }
                self.max_size = size;
                self.evict(0);
            } else {
                let (name, value) = self.literal(block, &mut at, 4)?;
                field(self.text(block, name), self.text(block, value));
            }
        }
        Ok(())
    }

    /// Entry `index` of the static then the dynamic table.
    fn entry(&self, index: usize) -> Result<(&[u8], &[u8]), HpackError> {
        match index {
            1..=61 => {
                let (n, v) = STATIC[index - 1];
                Ok((n.as_bytes(), v.as_bytes()))
            }
            _ => {
                let i = index.checked_sub(62).ok_or(HpackError::Index(index))?;
                let (n, v) = self.table.get(i).ok_or(HpackError::Index(index))?;
                Ok((n, v))
            }
        }
    }

    /// A literal field whose representation has a `prefix`-bit name index.
    fn literal(
        &mut self,
        block: &[u8],
        at: &mut usize,
        prefix: u32,
    ) -> Result<(Text, Text), HpackError> {
        let index = integer(block, at, prefix)?;
        let name = match index {
            0 => self.string(block, at, true)?,
            1..=61 => Text::Static(STATIC[index - 1].0),
            _ => {
                let i = index - 62;
                if i >= self.table.len() {
                    return Err(HpackError::Index(index));
                }
                Text::Entry(i)
            }
        };
        let value = self.string(block, at, false)?;
        Ok((name, value))
    }

    /// A string literal: a slice of the block, or decoded into a scratch buffer.
    fn string(&mut self, block: &[u8], at: &mut usize, name: bool) -> Result<Text, HpackError> {
        let huffman = block.get(*at).ok_or(HpackError::Truncated)? & 0x80 != 0;
        let len = integer(block, at, 7)?;
        let range: Range<usize> = *at..at.checked_add(len).ok_or(HpackError::Truncated)?;
        let bytes = block.get(range.clone()).ok_or(HpackError::Truncated)?;
        *at = range.end;
        if !huffman {
            return Ok(Text::Block(range.start, range.end));
        }
        let scratch = if name {
            &mut self.names
        } else {
            &mut self.values
        };
        scratch.clear();
        httlib_huffman::decode(bytes, scratch, httlib_huffman::DecoderSpeed::FiveBits)
            .map_err(|_| HpackError::Huffman)?;
        Ok(Text::Scratch(name))
    }

    fn text<'a>(&'a self, block: &'a [u8], text: Text) -> &'a [u8] {
        match text {
            Text::Static(s) => s.as_bytes(),
            Text::Entry(i) => &self.table[i].0,
            Text::Block(start, end) => &block[start..end],
            Text::Scratch(true) => &self.names,
            Text::Scratch(false) => &self.values,
        }
    }

    /// Adds a field to the dynamic table, evicting the oldest entries to make room
    /// (an entry larger than the whole table empties it and is not added).
    fn insert(&mut self, block: &[u8], name: Text, value: Text) {
        let name: Box<[u8]> = self.text(block, name).into();
        let value: Box<[u8]> = self.text(block, value).into();
        let cost = name.len() + value.len() + ENTRY_OVERHEAD;
        self.evict(cost);
        if cost <= self.max_size {
            self.size += cost;
            self.table.push_front((name, value));
        }
    }

    /// Evicts until `room` more bytes fit under the maximum size.
    fn evict(&mut self, room: usize) {
        while self.size + room > self.max_size {
            match self.table.pop_back() {
                Some((n, v)) => self.size -= n.len() + v.len() + ENTRY_OVERHEAD,
                None => break,
            }
        }
    }
}

/// A prefixed integer (RFC 7541 section 5.1) at `block[*at]`, whose first byte keeps
/// `prefix` bits for it.
fn integer(block: &[u8], at: &mut usize, prefix: u32) -> Result<usize, HpackError> {
    let max = (1usize << prefix) - 1;
    let mut value = usize::from(*block.get(*at).ok_or(HpackError::Truncated)?) & max;
    *at += 1;
    if value < max {
        return Ok(value);
    }
    let mut shift = 0;
    loop {
        let byte = *block.get(*at).ok_or(HpackError::Truncated)?;
        *at += 1;
        value += usize::from(byte & 0x7f) << shift;
        if value > MAX_INTEGER {
            return Err(HpackError::Integer);
        }
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests;
