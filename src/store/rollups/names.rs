//! Interned texts of rollup rows.

use rustc_hash::FxHashMap as HashMap;

/// The texts of rollup rows (countries, carriers, services, error codes...), each stored
/// once and numbered, so that rows can be held and compared as numbers.
#[derive(Clone, Default)]
pub struct Names {
    ids: HashMap<String, u32>,
    texts: Vec<String>,
}

impl Names {
    /// The number of `text`, numbering it if it is new.
    pub fn intern(&mut self, text: &str) -> u32 {
        if let Some(id) = self.ids.get(text) {
            return *id;
        }
        let id = self.texts.len() as u32;
        self.ids.insert(text.to_string(), id);
        self.texts.push(text.to_string());
        id
    }

    /// The number of `text`, if it has one.
    pub fn id(&self, text: &str) -> Option<u32> {
        self.ids.get(text).copied()
    }

    pub fn text(&self, id: u32) -> &str {
        &self.texts[id as usize]
    }
}
