//! The address book as the host changes and shows it, for the extension's calls and the CLI
//! alike: every address saved is first checked against its country's rules
//! (`profile_core::address::format`), and put in their form.

use profile_core::address::format;
use profile_core::wire::{AddressList, ListedAddress, SaveAddressParams, SavedAddressResult};
use profile_core::{Address, AddressBookError, AddressId, AddressKind, ErrorCode, WireError};

use super::state::LocalState;

/// An address checked against its country's rules and in their form (the postal code and the
/// region as the country writes them, the region's ISO 3166-2 code, the phone in E.164).
pub fn checked(address: Address) -> Result<Address, WireError> {
    format::check(address).map_err(|e| WireError::invalid(format!("invalid address: {e}")))
}

fn book_error(error: AddressBookError) -> WireError {
    let code = match error {
        AddressBookError::Unknown(_) => ErrorCode::NotFound,
        _ => ErrorCode::InvalidRequest,
    };
    WireError::new(code, error.to_string())
}

impl LocalState {
    /// Saves an address: a new one (`new_id` is its id), a saved one replaced, or, for callers
    /// from before address books, a kind's default.
    pub fn save_address(
        &mut self,
        params: SaveAddressParams,
        new_id: AddressId,
        now: u64,
    ) -> Result<SavedAddressResult, WireError> {
        let (id, kind) = match params {
            SaveAddressParams::Book { id, label, address } => {
                let address = checked(address)?;
                let id = match id {
                    Some(id) if self.address_book.get(&id).is_none() => {
                        return Err(book_error(AddressBookError::Unknown(id)));
                    }
                    Some(id) => id,
                    None => new_id,
                };
                self.address_book.save(id.clone(), label, address, now).map_err(book_error)?;
                (id, None)
            }
            SaveAddressParams::Default { kind, address } => {
                let id = self.address_book.save_as_default(kind, checked(address)?, new_id, now).map_err(book_error)?;
                (id, Some(kind))
            }
        };
        Ok(SavedAddressResult { default_for: self.address_book.default_kinds(&id), id, kind })
    }

    pub fn remove_address(&mut self, id: &AddressId, now: u64) -> Result<(), WireError> {
        self.address_book.remove(id, now).map_err(book_error)
    }

    pub fn set_default_address(&mut self, id: &AddressId, kind: AddressKind, now: u64) -> Result<(), WireError> {
        self.address_book.set_default(id, kind, now).map_err(book_error)
    }

    /// The address book as the extension's pages show it: defaults first (shipping, then
    /// billing), then by label; each with its lines in its country's order.
    pub fn address_list(&self) -> AddressList {
        let book = &self.address_book;
        let mut addresses: Vec<ListedAddress> = (book.addresses().iter())
            .map(|saved| ListedAddress {
                id: saved.id.clone(),
                label: saved.label.clone(),
                lines: format::lines(&saved.address),
                spellings: format::spellings(&saved.address),
                address: saved.address.clone(),
                default_for: book.default_kinds(&saved.id),
                saved_at: saved.saved_at,
            })
            .collect();
        let rank = |listed: &ListedAddress| match listed.default_for.first() {
            Some(AddressKind::Shipping) => 0,
            Some(AddressKind::Billing) => 1,
            None => 2,
        };
        addresses.sort_by(|a, b| {
            (rank(a), a.label.as_str().to_lowercase(), &a.id).cmp(&(rank(b), b.label.as_str().to_lowercase(), &b.id))
        });
        let default = |kind| book.default_of(kind).map(|saved| saved.address.clone());
        AddressList { addresses, shipping: default(AddressKind::Shipping), billing: default(AddressKind::Billing) }
    }

    /// The address `id_or_kind` names: `shipping`/`billing` for that kind's default (as before
    /// address books; an upgraded address whose id is its old kind is reached by its kind), or a
    /// saved address's id.
    pub fn find_address(&self, id_or_kind: &str) -> Result<&profile_core::SavedAddress, WireError> {
        let book = &self.address_book;
        let by_kind = AddressKind::ALL.into_iter().find(|k| k.as_str() == id_or_kind);
        let found = match (AddressId::try_from(id_or_kind.to_owned()).ok(), by_kind) {
            (_, Some(kind)) => book.default_of(kind),
            (Some(id), None) => book.get(&id),
            (None, None) => None,
        };
        found.ok_or_else(|| match by_kind {
            Some(kind) => WireError::new(ErrorCode::NotFound, format!("no {} address saved", kind.as_str())),
            None => WireError::new(ErrorCode::NotFound, format!("no saved address has the id `{id_or_kind}`")),
        })
    }
}
