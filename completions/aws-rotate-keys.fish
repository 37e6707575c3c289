complete --keep-order --exclusive --command aws-rotate-keys --arguments "(COMPLETE=fish aws-rotate-keys -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
