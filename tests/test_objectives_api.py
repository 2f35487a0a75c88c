"""Issue 26 over the app's HTTP API: raw text frozen as a text version from the Datasets tab, and the Train tab's
Sweep panel refusing a grid it cannot run."""

from gradio_client import Client


def test_raw_text_freezes_from_the_datasets_tab_and_a_bad_sweep_grid_is_refused(live_app, tmp_path):
    url, store = live_app
    project = store.create_project("blog", "generation")
    posts = tmp_path / "posts.md"
    posts.write_text("\n---\n".join(f"Post {n}: dashboards nobody reads cost more than they show, day {n}."
                                   for n in range(12)))
    from ftstudio.importing import import_paths

    import_paths(store, project, [posts])
    client = Client(url, verbose=False)
    notice, table, pick = client.predict("blog", "", "0.9,0.1,0", api_name="/freeze_text")
    assert "Froze text version v1" in notice and table["data"][0][0] == "v1"
    assert "raw text" in table["data"][0]
    refused = client.predict("blog", "learning_rat=1e-4", "v1", "cpt", "lora",
                             *[None] * (len(client.view_api(print_info=False, return_format="dict")[
                                 "named_endpoints"]["/start_sweep"]["parameters"]) - 5), api_name="/start_sweep")
    assert "no run setting" in repr(refused)
