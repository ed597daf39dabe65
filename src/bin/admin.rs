//! Entry point of the Administration page (`/admin/`): its own WebAssembly module, so the
//! console that operators keep open all day carries none of its code.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(switchboard_console::admin_page::AdminPage);
}
