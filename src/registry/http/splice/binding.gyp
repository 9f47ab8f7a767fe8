{
  "targets": [
    {
      "target_name": "splice",
      "sources": ["splice.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "conditions": [["OS!='linux'", {"type": "none"}]]
    }
  ]
}
