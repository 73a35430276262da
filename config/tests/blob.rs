//! The `config_blob!` symbol decodes what the tool would write into it.

mantle_config::config_blob!();

#[test]
fn unpatched_blob_says_so() {
    let r: Result<mantle_config::timer::TimerClientConfig, _> =
        mantle_config::decode(&__mantle_config);
    assert_eq!(r, Err(mantle_config::Error::NotPatched));
    assert_eq!(
        mantle_config::Bytes::len(&__mantle_config),
        mantle_config::CONFIG_SIZE
    );
    assert_eq!(
        mantle_config::Bytes::byte(&__mantle_config, mantle_config::CONFIG_SIZE),
        None
    );
}
