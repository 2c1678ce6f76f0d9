# placeholder, replaced by the testing issue
