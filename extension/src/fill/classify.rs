//! Which part of an address each control takes, or why it takes none: `autocomplete` tokens
//! first (the HTML standard's sections, `shipping`/`billing` and field names), then the words
//! of its name, id, label, `aria-label`, placeholder and the text near it, in English, German,
//! French, Spanish, Italian, Portuguese, Dutch and Japanese. Search boxes, store locators, logins
//! and passwords, newsletters, payment fields and coupon codes are refused, whatever else they
//! say.

use serde::Serialize;

use super::page::{Control, Frame, Tag};

/// A part of an address, a name or a contact that a control can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Target {
    FullName,
    GivenName,
    AdditionalName,
    FamilyName,
    Organization,
    /// The whole street address in one control (a textarea, `street-address`).
    StreetAddress,
    Line1,
    Line2,
    Line3,
    /// The street without the house number, in a section that asks for the number apart.
    Street,
    HouseNumber,
    /// A district, neighbourhood or suburb within the city (Brazil's bairro, Mexico's colonia).
    DependentLocality,
    City,
    Region,
    PostalCode,
    Country,
    Phone,
    PhoneCountryCode,
    PhoneNational,
    Email,
}

impl Target {
    /// What people call it, for the popup's preview.
    pub fn label(self) -> &'static str {
        match self {
            Self::FullName => "Full name",
            Self::GivenName => "First name",
            Self::AdditionalName => "Middle name",
            Self::FamilyName => "Last name",
            Self::Organization => "Organization",
            Self::StreetAddress => "Street address",
            Self::Line1 => "Address line 1",
            Self::Line2 => "Address line 2",
            Self::Line3 => "Address line 3",
            Self::Street => "Street",
            Self::HouseNumber => "House number",
            Self::DependentLocality => "Neighbourhood",
            Self::City => "City",
            Self::Region => "Region",
            Self::PostalCode => "Postal code",
            Self::Country => "Country",
            Self::Phone | Self::PhoneNational => "Phone",
            Self::PhoneCountryCode => "Phone country code",
            Self::Email => "Email",
        }
    }
}

/// Why a control takes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Refusal {
    Payment,
    Coupon,
    Search,
    /// Store locators.
    Locator,
    /// Logins, passwords, usernames, one-time codes.
    Login,
    Newsletter,
    /// Anything else that is not an address: notes, titles, birthdays, tax ids, captchas.
    NotAnAddress,
}

/// The purpose a section names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Purpose {
    Shipping,
    Billing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guess {
    Field(Target),
    /// "Nombre", "Nome": the first name beside a surname field, else the whole name.
    GivenOrFull,
    /// "Nom": the surname beside a first-name field, else the whole name.
    FamilyOrFull,
    Refuse(Refusal),
}

/// One control, classified.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub target: Result<Target, Refusal>,
    /// What its own `autocomplete` or name says it is for.
    pub purpose: Option<Purpose>,
    /// Its `section-*` token, if any.
    pub section: String,
}

/// Lower case of the letters a form's words use (ASCII and Latin-1; other scripts have no case
/// here, or are compared as written): Unicode's own case tables would weigh more in the module
/// than the whole vocabulary.
fn lower(c: char) -> char {
    match c {
        'A'..='Z' | 'À'..='Ö' | 'Ø'..='Þ' => char::from_u32(c as u32 + 32).unwrap_or(c),
        'Œ' => 'œ',
        _ => c,
    }
}

/// Lower case, accents folded, punctuation to spaces, camelCase and letters-then-digits split
/// (`billingAddress1` → ` billing address 1 `), with a space at each end so that patterns with
/// spaces match whole words.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    let mut previous: Option<char> = None;
    for c in text.chars().take(200) {
        if let Some(p) = previous
            && ((p.is_ascii_lowercase() && c.is_ascii_uppercase())
                || (p.is_ascii_alphabetic() && c.is_ascii_digit())
                || (p.is_ascii_digit() && c.is_ascii_alphabetic()))
        {
            out.push(' ');
        }
        previous = Some(c);
        {
            let lower = lower(c);
            match lower {
                'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => out.push('a'),
                'ç' => out.push('c'),
                'è' | 'é' | 'ê' | 'ë' => out.push('e'),
                'ì' | 'í' | 'î' | 'ï' => out.push('i'),
                'ñ' => out.push('n'),
                'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => out.push('o'),
                'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
                'ý' | 'ÿ' => out.push('y'),
                'ß' => out.push_str("ss"),
                'œ' => out.push_str("oe"),
                'æ' => out.push_str("ae"),
                c if c.is_ascii_alphanumeric()
                    || (c > '\u{ff}'
                        && !matches!(c, '\u{2000}'..='\u{206f}' | '\u{3000}'..='\u{3003}' | '\u{3008}'..='\u{3011}' | '\u{30fb}' | '\u{ff01}'..='\u{ff0f}')) =>
                {
                    out.push(c)
                }
                _ if !out.ends_with(' ') => out.push(' '),
                _ => {}
            }
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    out
}

use Guess::{FamilyOrFull, Field, GivenOrFull, Refuse};
use Refusal::*;
use Target::*;

/// The vocabulary, normalized (see [`normalize`]), `|` between the words of one guess: a word
/// with a space at an end matches only at a word's edge. Where several match one text, the one that ends last wins (names
/// and labels put the specific word last: `shippingAddress.firstName`), then the longer
/// (`email address` over `address`); a refusal in the text wins over any field.
const WORDS: &[(Guess, &str)] = &[
    (
        Refuse(Payment),
        concat!(
            "card|karte|carte|tarjeta|carta|kaart| cc |ccnum|cvv|cvc| csc |security code|",
            "sicherheitscode|expir| exp |ablauf|gultig bis|vencimiento|scadenza|validade|",
            "vervaldatum| iban | bic |swift|account number|routing|kontonummer|sort code|payment|",
            "zahlung|paiement| pago|pagamento|betaling",
        ),
    ),
    (
        Refuse(Coupon),
        concat!(
            "coupon|promo|voucher|gift|discount|redeem|gutschein|rabatt|reduction|cupon|buono|",
            "sconto|cupom|korting|actiecode|waardebon",
        ),
    ),
    (Refuse(Search), "search|suche|recherche|buscar|busqueda|cerca|pesquis|zoek| q |query"),
    (
        Refuse(Locator),
        concat!(
            "locator|store finder|find a store|find store|nearest store|filiale|magasin|tienda|",
            "negozio| loja|winkel",
        ),
    ),
    (
        Refuse(Login),
        concat!(
            "password|passwort|kennwort|mot de passe|contrasena|senha|wachtwoord| pwd | pass |",
            "username|user name|userid|user id| login| log in |sign in|signin|benutzername|",
            "identifiant|usuario|utente|gebruikersnaam| otp |one time|verification code",
        ),
    ),
    (
        Refuse(Newsletter),
        concat!("newsletter|subscribe|abonnieren|abonne|suscrib|iscriviti|inscreva|nieuwsbrief|", "mailing list",),
    ),
    (
        Refuse(NotAnAddress),
        concat!(
            "note|comment|message|instruction|anmerkung|bemerkung|kommentar|hinweis|remarque|",
            "commentaire|comentario|observa|opmerking|captcha|quantity| qty |menge|birth|geburt|",
            "naissance|nacimiento|nascita| vat | tax |ust id|steuer| tva | nif | cif |",
            "codice fiscale|partita iva| cpf | dni |kana|フリガナ|ふりがな|カナ|セイ|メイ|title|salutation|",
            "anrede|civilite|tratamiento|gender|geschlecht|website| url | fax |honeypot|order|",
            "bestell|commande|pedido|ordine",
        ),
    ),
    (
        Field(Email),
        concat!(
            "mail|email address|e mail address|mail adresse|courriel|correo|posta elettronica|",
            "electronique|electronico|eletronico|メール",
        ),
    ),
    (
        Field(PhoneCountryCode),
        concat!("dial code|calling code|phone code|phone country|landesvorwahl|indicatif|prefijo|", "prefisso",),
    ),
    (
        Field(Phone),
        concat!(
            "phone| tel |telefon|telephone|telefoon|mobile| mobil|cell| handy |portable|movil|",
            "celular|telemovel|mobiel| gsm |電話|携帯",
        ),
    ),
    (
        Field(PostalCode),
        concat!(
            "zip|postal code|postalcode|postcode|post code| plz |postleitzahl|code postal|",
            "codepostal| cp |codigo postal| cap | cep |postnummer|郵便番号|〒",
        ),
    ),
    (Field(Country), "country|country region|country or region| land |pays| pais |paese|nazione|国"),
    (
        Field(Region),
        concat!(
            "state|province|region|county| zone |bundesland|provinz|departement|provincia|estado|",
            "distrito|prefecture|territory| uf |都道府県",
        ),
    ),
    (Field(DependentLocality), "bairro|neighborhood|neighbourhood|barrio|colonia"),
    (
        Field(City),
        concat!(
            "city|town|stadt| ort |wohnort|ville|ciudad|localidad|poblacion|municipio|citta|comune|",
            "localita|locality|cidade|plaats|suburb|市区町村|市町村",
        ),
    ),
    (
        Field(Organization),
        concat!(
            "company|company name|organization|organisation|business| firma|firmenname|unternehmen|",
            "societe|entreprise|raison sociale|empresa|compania|azienda|societa|ragione sociale|",
            "bedrijf|会社",
        ),
    ),
    (Field(Line2), "line 2|additional address line 1"),
    (Field(Line3), "additional address line 2"),
    (Field(Line2), "address 2|addr 2"),
    (Field(Line3), "street 2 "),
    (Field(Line2), "street 1 "),
    (Field(Line3), "line 3|address 3"),
    (
        Field(Line2),
        concat!(
            "apartment| apt |suite| unit |building|floor|adresszusatz|zusatz|complement|",
            "appartement|batiment|etage| piso|departamento|apartamento|interno|toevoeging|建物",
        ),
    ),
    (
        Field(HouseNumber),
        concat!(
            "house number|housenumber|house no|hausnummer|hausnr|haus nr| nr |numero|numero de rue|",
            "huisnummer|street number",
        ),
    ),
    (
        Field(Line1),
        concat!(
            "address|address 1|address line 1|street|street name|mailing address|strasse|",
            "strasse und hausnummer|strasse hausnummer|strasse nr|adresse|anschrift| rue |",
            "direccion|domicilio|calle|indirizzo| via |endereco|logradouro| rua |morada|straat|",
            " adres |住所|番地",
        ),
    ),
    (
        Field(GivenName),
        concat!(
            "first name|firstname| first |given name|givenname|forename| fname |vorname|prenom|",
            "voornaam|primeiro nome|名",
        ),
    ),
    (Field(AdditionalName), "middle name|middlename|additional name"),
    (
        Field(FamilyName),
        concat!(
            "last name|lastname| last |surname|family name|familyname| lname |nachname|",
            "familienname|nom de famille|apellido|cognome|sobrenome|achternaam|姓",
        ),
    ),
    (GivenOrFull, "nombre|nome"),
    (FamilyOrFull, " nom "),
    (
        Field(FullName),
        concat!(
            "name|full name|fullname| naam |nom complet|nombre completo|nombre y apellidos|",
            "nome completo|nome e cognome|name and surname|vor und nachname|vorname und nachname|",
            "prenom et nom|volledige naam|recipient|empfanger|destinataire|destinatario|氏名|お名前|名前",
        ),
    ),
];

/// Words of a section's heading, or of a name or id, that say whom the address is for.
const PURPOSES: &[(&str, Purpose)] = &[
    ("shipping", Purpose::Shipping),
    ("delivery", Purpose::Shipping),
    ("ship to", Purpose::Shipping),
    (" ship ", Purpose::Shipping),
    ("liefer", Purpose::Shipping),
    ("versand", Purpose::Shipping),
    ("livraison", Purpose::Shipping),
    ("envio", Purpose::Shipping),
    ("entrega", Purpose::Shipping),
    ("spedizione", Purpose::Shipping),
    ("consegna", Purpose::Shipping),
    ("bezorg", Purpose::Shipping),
    ("verzend", Purpose::Shipping),
    ("配送", Purpose::Shipping),
    ("お届け", Purpose::Shipping),
    ("billing", Purpose::Billing),
    ("invoice", Purpose::Billing),
    ("rechnung", Purpose::Billing),
    ("facturation", Purpose::Billing),
    ("facturacion", Purpose::Billing),
    ("fatturazione", Purpose::Billing),
    ("faturamento", Purpose::Billing),
    ("cobranca", Purpose::Billing),
    ("factuur", Purpose::Billing),
    ("請求", Purpose::Billing),
];

/// The patterns by their first byte, so that each position of a text is tried only against the
/// patterns that can start there.
fn by_first_byte() -> &'static [Vec<(&'static str, Guess)>; 256] {
    static INDEX: std::sync::OnceLock<[Vec<(&'static str, Guess)>; 256]> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: [Vec<(&'static str, Guess)>; 256] = std::array::from_fn(|_| Vec::new());
        for (guess, words) in WORDS {
            for word in words.split('|').filter(|w| !w.is_empty()) {
                index[usize::from(word.as_bytes()[0])].push((word, *guess));
            }
        }
        index
    })
}

/// What a normalized text says, if anything: a refusal anywhere in it, else the field whose
/// word ends last (then the longest).
fn guess(text: &str) -> Option<Guess> {
    let index = by_first_byte();
    let bytes = text.as_bytes();
    let mut best: Option<(usize, usize, Guess)> = None;
    let mut refusal = None;
    for start in 0..bytes.len() {
        for &(pattern, guess) in &index[usize::from(bytes[start])] {
            if !bytes[start..].starts_with(pattern.as_bytes()) {
                continue;
            }
            if let Refuse(_) = guess {
                refusal.get_or_insert(guess);
                continue;
            }
            let (end, len) = (start + pattern.len(), pattern.len());
            // A pattern's trailing space is the next word's leading one: it ends a byte earlier.
            let end = end - usize::from(pattern.ends_with(' '));
            if best.is_none_or(|(e, l, _)| (end, len) > (e, l)) {
                best = Some((end, len, guess));
            }
        }
    }
    refusal.or(best.map(|(_, _, guess)| guess))
}

fn purpose_of(text: &str) -> Option<Purpose> {
    PURPOSES.iter().find(|(word, _)| text.contains(word)).map(|(_, purpose)| *purpose)
}

/// What the `autocomplete` attribute says: `None` when it names no field this classifier knows
/// (`on`, `off`, a made-up value), so the words decide.
fn from_autocomplete(value: &str) -> Option<(Guess, Option<Purpose>, String)> {
    let tokens: Vec<&str> = value.split_ascii_whitespace().filter(|t| *t != "webauthn").collect();
    // The standard has one field name, last; pages write more (WooCommerce's "email
    // username"): a field of an address among them wins.
    let named: Vec<Guess> = tokens.iter().filter_map(|t| field_token(t)).collect();
    let guess = named.iter().find(|g| matches!(g, Field(_))).or(named.first()).copied()?;
    let rest = &tokens[..];
    let guess = if rest.iter().any(|t| matches!(*t, "fax" | "pager")) { Refuse(NotAnAddress) } else { guess };
    let purpose = rest.iter().find_map(|t| match *t {
        "shipping" => Some(Purpose::Shipping),
        "billing" => Some(Purpose::Billing),
        _ => None,
    });
    let section = rest.iter().find(|t| t.starts_with("section-")).map(|t| (*t).to_owned()).unwrap_or_default();
    Some((guess, purpose, section))
}

/// An `autocomplete` field name, as a guess; `None` for the other tokens and unknown values.
fn field_token(field: &str) -> Option<Guess> {
    Some(match field {
        "name" => Field(FullName),
        "given-name" => Field(GivenName),
        "additional-name" => Field(AdditionalName),
        "family-name" => Field(FamilyName),
        "organization" => Field(Organization),
        "street-address" => Field(StreetAddress),
        "address-line1" => Field(Line1),
        "address-line2" => Field(Line2),
        "address-line3" => Field(Line3),
        "address-level3" => Field(DependentLocality),
        "address-level2" => Field(City),
        "address-level1" => Field(Region),
        "country" | "country-name" => Field(Country),
        "postal-code" => Field(PostalCode),
        "tel" => Field(Phone),
        "tel-country-code" => Field(PhoneCountryCode),
        "tel-national" => Field(PhoneNational),
        "email" => Field(Email),
        "username" | "current-password" | "new-password" | "one-time-code" => Refuse(Login),
        f if f.starts_with("cc-") || f.starts_with("transaction-") => Refuse(Payment),
        "honorific-prefix" | "honorific-suffix" | "nickname" | "organization-title" | "address-level4"
        | "tel-area-code" | "tel-local" | "tel-local-prefix" | "tel-local-suffix" | "tel-extension" | "bday"
        | "bday-day" | "bday-month" | "bday-year" | "sex" | "url" | "photo" | "impp" | "language" => {
            Refuse(NotAnAddress)
        }
        _ => return None,
    })
}

/// Classifies one control on its own, before its section is known.
fn control(c: &Control) -> (Option<Guess>, Option<Purpose>, String) {
    let own = normalize(&format!("{} {}", c.name, c.id));
    let named_purpose = purpose_of(&own);
    if let Some((guess, purpose, section)) = from_autocomplete(&c.autocomplete) {
        return (Some(guess), purpose.or(named_purpose), section);
    }
    let by_type = match (c.tag, c.kind.as_str()) {
        (Tag::Input, "password") => Some(Refuse(Login)),
        (Tag::Input, "search") => Some(Refuse(Search)),
        (Tag::Input, "email") => Some(Field(Email)),
        (Tag::Input, "tel") => Some(Field(Phone)),
        (Tag::Input, "text" | "" | "number") | (Tag::Select | Tag::Textarea, _) => None,
        _ => return (None, None, String::new()),
    };
    let words = [&c.name, &c.id, &c.label, &c.aria_label, &c.placeholder, &c.near]
        .into_iter()
        .filter(|text| !text.is_empty())
        .find_map(|text| guess(&normalize(text)));
    let guess = match (words, by_type) {
        // An `email` input named "username" is the email a checkout asks for; a real login
        // form is known by its password (see `frame`).
        (Some(Refuse(Login)), Some(Field(Email))) => Some(Field(Email)),
        (Some(Refuse(refusal)), _) | (_, Some(Refuse(refusal))) => Some(Refuse(refusal)),
        // The type is a promise of the value's form: an `email` input takes an email whatever
        // its label says; a `tel` one a phone number or its country code.
        (Some(Field(PhoneCountryCode | PhoneNational)), Some(Field(Phone))) => words,
        (_, Some(typed)) => Some(typed),
        (words, None) => words,
    };
    let guess = match guess {
        Some(Field(Line1)) if c.tag == Tag::Textarea => Some(Field(StreetAddress)),
        other => other,
    };
    (guess, named_purpose, String::new())
}

/// Classifies every control of a frame, each in the light of its section (the other controls
/// of its form part) and its form (a login, a newsletter sign-up, a search).
pub fn frame(frame: &Frame) -> Vec<Option<Classified>> {
    let guesses: Vec<_> = frame.controls.iter().map(control).collect();
    // A page with a postal address to fill is a checkout or a registration: a form of it that
    // asks only for an email is its contact email, whatever its class says (Magento's guest
    // email form is a "form-login" whose password shows only for a known customer).
    let asks_an_address =
        guesses.iter().any(|(g, _, _)| matches!(g, Some(Field(Line1 | StreetAddress | Street | PostalCode | City))));
    // Each control's section (form, heading, `section-*` token), and what each section asks for.
    let key = |i: usize| (frame.controls[i].form, frame.controls[i].group_key, guesses[i].2.as_str());
    let mut keys: Vec<(usize, i64, &str)> = Vec::new();
    let mut asked: Vec<Vec<Guess>> = Vec::new();
    let section: Vec<usize> = (0..guesses.len())
        .map(|i| {
            let at = keys.iter().rposition(|k| *k == key(i)).unwrap_or_else(|| {
                keys.push(key(i));
                asked.push(Vec::new());
                keys.len() - 1
            });
            if let Some(guess) = guesses[i].0.filter(|g| !asked[at].contains(g)) {
                asked[at].push(guess);
            }
            at
        })
        .collect();
    let in_section = |i: usize, wanted: &[Guess]| asked[section[i]].iter().any(|g| wanted.contains(g));
    let forms: Vec<Option<Refusal>> = (0..frame.forms.len().max(1))
        .map(|form| {
            let members: Vec<usize> = (0..guesses.len()).filter(|&i| frame.controls[i].form == form).collect();
            let context = frame.forms.get(form).map(|f| normalize(&f.context)).unwrap_or_default();
            let fields = || {
                members.iter().filter_map(|&i| match guesses[i].0 {
                    Some(Field(target)) => Some(target),
                    Some(GivenOrFull | FamilyOrFull) => Some(FullName),
                    _ => None,
                })
            };
            // A password field the page shows (a hidden one, as checkouts keep for returning
            // customers, makes no login of the form).
            let has_password = members.iter().any(|&i| {
                frame.controls[i].kind == "password"
                    && super::page::unseen(&frame.controls[i].look, frame.document).is_none()
            });
            // A login: a password and at most an email or a name beside it.
            if has_password && fields().filter(|t| *t != Email).count() < 2 {
                return Some(Login);
            }
            if fields().all(|t| matches!(t, Email | FullName | GivenName | FamilyName)) {
                for (word, refusal) in [
                    ("newsletter", Newsletter),
                    ("subscri", Newsletter),
                    ("abonn", Newsletter),
                    ("suscrib", Newsletter),
                    ("iscriv", Newsletter),
                    ("nieuwsbrief", Newsletter),
                    ("search", Search),
                    ("suche", Search),
                    ("recherche", Search),
                    ("login", Login),
                    ("sign in", Login),
                    ("signin", Login),
                ] {
                    if context.contains(word) && !(refusal == Login && asks_an_address) {
                        return Some(refusal);
                    }
                }
            }
            ["search", "locator", "store finder"]
                .iter()
                .any(|word| {
                    context.contains(word) && fields().all(|t| matches!(t, PostalCode | City | Country | Region))
                })
                .then_some(Locator)
        })
        .collect();
    guesses
        .iter()
        .enumerate()
        .map(|(i, (guess, purpose, section))| {
            let c = &frame.controls[i];
            let group = normalize(&c.group);
            let group_refusal = ["payment", "zahlung", "paiement", "pago", "pagamento", "betaling", "credit card"]
                .iter()
                .any(|word| group.contains(word));
            let target = match (*guess)? {
                _ if group_refusal => Err(Payment),
                _ if forms.get(c.form).copied().flatten().is_some() => Err(forms[c.form].unwrap_or(NotAnAddress)),
                Refuse(refusal) => Err(refusal),
                GivenOrFull if in_section(i, &[Field(FamilyName), FamilyOrFull]) => Ok(GivenName),
                FamilyOrFull if in_section(i, &[Field(GivenName), GivenOrFull]) => Ok(FamilyName),
                GivenOrFull | FamilyOrFull => Ok(FullName),
                Field(Line1) if in_section(i, &[Field(HouseNumber)]) => Ok(Street),
                Field(Phone) if in_section(i, &[Field(PhoneCountryCode)]) => Ok(PhoneNational),
                Field(target) => Ok(target),
            };
            Some(Classified { target, purpose: purpose.or_else(|| purpose_of(&group)), section: section.clone() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(text: &str) -> Option<Guess> {
        guess(&normalize(text))
    }

    #[test]
    fn normalizing_splits_names_and_folds_accents() {
        assert_eq!(normalize("shippingAddress.firstName"), " shipping address first name ");
        assert_eq!(normalize("billing_address_1"), " billing address 1 ");
        assert_eq!(normalize("Straße & Hausnr."), " strasse hausnr ");
        assert_eq!(normalize("Prénom"), " prenom ");
        assert_eq!(normalize("street[0]"), " street 0 ");
    }

    #[test]
    fn the_specific_word_wins_in_every_language() {
        for (text, target) in [
            ("dwfrm_shipping_shippingAddress_addressFields_firstName", GivenName),
            ("checkout[shipping_address][address1]", Line1),
            ("Email address", Email),
            ("E-Mail-Adresse", Email),
            ("Adresse e-mail", Email),
            ("Company name", Organization),
            ("Country/region", Country),
            ("House number and street name", Line1),
            ("Apartment, suite, unit, etc. (optional)", Line2),
            ("additionalAddressLine1", Line2),
            ("street[1]", Line2),
            ("Straße und Hausnummer", Line1),
            ("Hausnummer", HouseNumber),
            ("Bairro", DependentLocality),
            ("Neighborhood (optional)", DependentLocality),
            ("Postleitzahl", PostalCode),
            ("Code postal", PostalCode),
            ("CAP", PostalCode),
            ("Código postal", PostalCode),
            ("Ville", City),
            ("Località", City),
            ("Woonplaats", City),
            ("Telefonnummer", Phone),
            ("Número de teléfono", Phone),
            ("Nachname", FamilyName),
            ("Cognome", FamilyName),
            ("Sobrenome", FamilyName),
            ("Achternaam", FamilyName),
            ("Voornaam", GivenName),
            ("Nome e cognome", FullName),
            ("お名前", FullName),
            ("姓", FamilyName),
            ("名", GivenName),
            ("郵便番号", PostalCode),
            ("都道府県", Region),
            ("State / Province", Region),
            ("region_id", Region),
        ] {
            assert_eq!(said(text), Some(Field(target)), "{text}");
        }
        assert_eq!(said("Nombre"), Some(GivenOrFull));
        assert_eq!(said("Nom"), Some(FamilyOrFull));
    }

    #[test]
    fn refusals_win_over_any_field() {
        for (text, refusal) in [
            ("Name on card", Payment),
            ("Cardholder name", Payment),
            ("Discount code or gift card", Coupon),
            ("Gutscheincode", Coupon),
            ("Search our store", Search),
            ("Find a store near your zip code", Locator),
            ("Username or email address", Login),
            ("Subscribe to our newsletter: email", Newsletter),
            ("Order notes", NotAnAddress),
            ("セイ（フリガナ）", NotAnAddress),
        ] {
            assert_eq!(said(text), Some(Refuse(refusal)), "{text}");
        }
        assert_eq!(said("field_17"), None);
    }

    #[test]
    fn autocomplete_tokens_come_first_with_sections_and_purposes() {
        let (guess, purpose, section) = from_autocomplete("section-gift shipping given-name").unwrap();
        assert_eq!((guess, purpose, section.as_str()), (Field(GivenName), Some(Purpose::Shipping), "section-gift"));
        assert_eq!(from_autocomplete("billing cc-number").unwrap().0, Refuse(Payment));
        assert_eq!(from_autocomplete("work fax tel").unwrap().0, Refuse(NotAnAddress));
        assert_eq!(from_autocomplete("off"), None);
        assert_eq!(from_autocomplete("new-password").unwrap().0, Refuse(Login));
        assert_eq!(from_autocomplete("email username").unwrap().0, Field(Email));
        assert_eq!(from_autocomplete("shipping address-level3").unwrap().0, Field(DependentLocality));
    }
}
