//! Entry point of the console's WebAssembly module: mounts the app on the page.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(switchboard_console::App);
}
