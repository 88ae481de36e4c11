//! Any string as a token, at every check a token meets: the simplejwt
//! signer (both kinds) and the Supabase verifier. Never a panic; nothing
//! accepted that was not signed with the secret.
#![no_main]

use accountd::domain::supabase::SupabaseVerifier;
use accountd::domain::tokens::{TokenKind, TokenSigner};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"a fuzzing secret of thirty-two bytes!";

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let signer = TokenSigner::new(SECRET, None).unwrap();
    let audience = TokenSigner::new(SECRET, Some("aud")).unwrap();
    for kind in [TokenKind::Access, TokenKind::Refresh] {
        // Forging an HS256 signature is out of a fuzzer's reach: nothing it
        // makes may verify.
        assert!(signer.verify(token, kind, 1_700_000_000).is_err(), "{token}");
        assert!(audience.verify(token, kind, 1_700_000_000).is_err(), "{token}");
    }
    assert!(SupabaseVerifier::new(SECRET).verify(token, 1_700_000_000).is_err());
    let _ = accountd::domain::supabase::may_be_imported(token);
});
