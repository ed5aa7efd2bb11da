//! Feiyu's enum values as Rhai constants: `feiyu::CLUE_TYPE_FORM` (= 0), `feiyu::CLUE_SOURCE_AD`,
//! `feiyu::GENDER_MALE`, so scripts compare `lead.raw.clue_type == feiyu::CLUE_TYPE_FORM`.

use rhai::{Module, INT};

use super::model::{CLUE_SOURCES, CLUE_TYPES, GENDERS};

/// Adds the constants to the `feiyu` module.
pub fn constants(module: &mut Module) {
    for (name, value, _label) in CLUE_TYPES.iter().chain(CLUE_SOURCES).chain(GENDERS) {
        module.set_var(*name, *value as INT);
    }
}
