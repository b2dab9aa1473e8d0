"""Domain plugins: one package per science, each registered through the
``foundations.domains`` entry-point group."""
