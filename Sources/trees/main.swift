import TreesCommands

TreesMain.main()
